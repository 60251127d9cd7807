"""The cosine similarities of a message to a model's training vectors, for the nearest-neighbour vote.

Read in float32, the vectors are 28 MB over the three models (intent: 10,960 × 384), and a message's encoder
run has just pushed them out of the CPU's cache: streaming them back from memory was most of each vote's
time. `Similarities` reads an int8 copy first (a scale per vector, a quarter of the bytes) with onnxruntime's
int8 matrix product, which quantises the message per call. Its scores are within 0.0023 of the exact ones
(every training row of the three models against 300 held-out messages). Only the rows whose first score
is within MARGIN of the k-th best get their exact float32 score, from the float32 rows: a row among the
exact k nearest is always one of them as long as no first score is off by more than MARGIN / 2 (0.01,
four times the largest error seen), and the vote reads the exact scores only. About a hundred rows
a message (the 90th percentile about 300), instead of all of them.

The graph (`neighbours.onnx`, a single DynamicQuantizeMatMul, written by
`intents.build.neighbour_graph`) ships with the package: the service has onnxruntime but not the onnx
library that writes graphs. The int8 rows and their scales are given to the session at load time in place
of the graph's placeholders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GRAPH_FILE = Path(__file__).parent / "neighbours.onnx"
# Twice the largest first-pass error allowed (see the module's docstring).
MARGIN = 0.02


class Similarities:
    """Cosine similarities of unit queries to the unit `rows`: the exact ones of the rows that can be among
    the k nearest."""

    def __init__(self, rows: np.ndarray, k: int):
        import onnxruntime as ort

        self.rows = np.ascontiguousarray(rows, dtype=np.float32)
        self.k = k
        scale = np.abs(self.rows).max(axis=1) / 127.0
        scale[scale == 0] = 1.0  # a zero row: any scale stores it exactly
        # The session reads these arrays in place (not copied): they live as long as it does.
        self._int8 = np.ascontiguousarray(np.round(self.rows / scale[:, None]).astype(np.int8).T)  # dim × n
        self._scale = scale.astype(np.float32)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # the placeholders' shapes differ from the rows': that is the point
        self._values = [ort.OrtValue.ortvalue_from_numpy(self._int8), ort.OrtValue.ortvalue_from_numpy(self._scale)]
        options.add_initializer("rows", self._values[0])
        options.add_initializer("scales", self._values[1])
        self._session = ort.InferenceSession(GRAPH_FILE.read_bytes(), options, providers=["CPUExecutionProvider"])

    def __call__(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, their exact similarity to the unit `query`): every row that can be among the k nearest, in
        row order (all of them for a zero query, or with k rows or fewer)."""
        query = np.asarray(query, dtype=np.float32)
        n = len(self.rows)
        if n <= self.k or not np.any(query):
            return np.arange(n), self.rows @ query
        first = self._session.run(None, {"query": query[None, :]})[0][0]
        kth = np.partition(first, n - self.k)[n - self.k]
        near = np.flatnonzero(first >= kth - MARGIN)
        return near, self.rows[near] @ query
