"""Write `intents/neighbours.onnx`: the int8 first pass of the nearest-neighbour vote (`intents.neighbours`).

One com.microsoft DynamicQuantizeMatMul: the query (1 × dim, float32, quantised to uint8 per call) times the
rows (dim × n, int8) with a scale per row, giving float32 scores. The rows and scales in the file are
placeholders of one row; `Similarities` gives the session the real ones. Needs the onnx package (a build
dependency); the file is committed, and a test checks it is what this writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from intents.neighbours import GRAPH_FILE

DIM = 384


def graph_bytes(dim: int = DIM) -> bytes:
    from onnx import TensorProto, checker, helper, numpy_helper

    node = helper.make_node("DynamicQuantizeMatMul", ["query", "rows", "scales"], ["similarities"], domain="com.microsoft")
    graph = helper.make_graph(
        [node],
        "neighbours",
        [helper.make_tensor_value_info("query", TensorProto.FLOAT, [1, dim])],
        [helper.make_tensor_value_info("similarities", TensorProto.FLOAT, [1, "rows"])],
        initializer=[
            numpy_helper.from_array(np.zeros((dim, 1), dtype=np.int8), "rows"),
            numpy_helper.from_array(np.ones(1, dtype=np.float32), "scales"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        producer_name="huashu", ir_version=8,
    )
    checker.check_model(model)
    return model.SerializeToString()


def write(path: Path = GRAPH_FILE) -> Path:
    path.write_bytes(graph_bytes())
    return path


if __name__ == "__main__":  # python -m intents.build.neighbour_graph
    print(write())
