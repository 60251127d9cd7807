"""The nearest-neighbour vote's int8 first pass (intents.neighbours): it never leaves out a row of the exact
k nearest, its scores are the exact ones, and it sends only a small share of the rows to the exact pass."""

from __future__ import annotations

import numpy as np
import pytest

from intents.classifier import make_documents
from intents.models import load_model
from intents.neighbours import GRAPH_FILE, MARGIN, Similarities


@pytest.fixture(scope="module")
def queries(segmenter, encoder):
    from tests.conftest import HELDOUT

    texts = []
    for name in ("written.tsv", "real_style.tsv", "psychology.tsv"):
        lines = (HELDOUT / name).read_text(encoding="utf-8").splitlines()
        texts += [line.split("\t", 1)[1] for line in lines[::3] if line and not line.startswith("#")]
    vectors = np.vstack([d.vector for d in make_documents(texts, segmenter, encoder)])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_shipped_graph_is_what_the_build_writes():
    pytest.importorskip("onnx")
    from intents.build.neighbour_graph import graph_bytes

    assert GRAPH_FILE.read_bytes() == graph_bytes()


@pytest.mark.parametrize("task", ["intent", "psychology", "knowledge"])
def test_the_first_pass_keeps_every_one_of_the_k_nearest_with_its_exact_score(task, model_dir, encoder, queries):
    model, _ = load_model(task, model_dir / task, encoder.name)
    similarities, _ = model._neighbors_cache
    rows, k = similarities.rows, similarities.k
    kept = []
    for query in queries:
        exact = rows @ query
        near, scores = similarities(query)
        assert np.all(np.diff(near) > 0)  # row order: the vote's tie rule takes the lowest-numbered rows
        np.testing.assert_allclose(scores, exact[near], rtol=0, atol=1e-6)
        kth = np.sort(exact)[-k]
        assert set(np.flatnonzero(exact >= kth - 1e-6)) <= set(near)  # the k nearest, and any row tying them
        kept.append(len(near))
    # the point of it: the exact pass reads a small share of the rows
    assert np.median(kept) < len(rows) / 10, (np.median(kept), len(rows))


@pytest.mark.parametrize("task", ["intent", "knowledge"])
def test_the_int8_scores_stay_well_inside_the_margin(task, model_dir, encoder, queries):
    """The first pass is exact as long as no int8 score is off by MARGIN / 2: on every training row, for
    the held-out messages, the largest error is well under it."""
    model, _ = load_model(task, model_dir / task, encoder.name)
    similarities, _ = model._neighbors_cache
    worst = max(
        np.abs(similarities._session.run(None, {"query": q[None, :]})[0][0] - similarities.rows @ q).max()
        for q in queries[::4]
    )
    assert worst < MARGIN / 4, worst


def test_small_and_degenerate_inputs():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(40, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows[7] = 0.0  # a zero row
    query = rows[3]
    near, scores = Similarities(rows, 10)(query)
    assert 3 in near and scores[list(near).index(3)] == pytest.approx(1.0, abs=1e-6)
    near, scores = Similarities(rows[:5], 10)(query)  # fewer rows than k: all of them
    assert list(near) == list(range(5))
    near, scores = Similarities(rows, 10)(np.zeros(384, dtype=np.float32))  # no encoder: every score 0
    assert len(near) == 40 and not scores.any()
