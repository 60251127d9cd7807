"""The request-time fast paths give the answers of the plain ones: caches, micro-batching,
the vectorised nearest-neighbour vote, the buffered audit writer. (Speed is `make bench`'s job.)"""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from intents.classifier import EMBED_MAX_CHARS, make_documents
from intents.models import load_intent_model
from intents.caching import SPARE_CORES, BatchingEncoder, CachedProbabilities, MemoryCachedEncoder
from intents.encoder import DiskCachedEncoder
from service.store import AuditEntry, Store

MESSAGES = ["在吗", "能便宜点吗", "亲 我165 110斤穿什么码", "快递到哪了 怎么还没到", "质量太差了 我要退货", "在吗"]


class FakeEncoder:
    """Deterministic vectors from the text; records every call it gets."""

    name, dim = "fake", 4

    def __init__(self, fail_on: str | None = None, delay: float = 0.0):
        self.calls: list[tuple[list[str], bool]] = []
        self.fail_on = fail_on
        self.delay = delay
        self._lock = threading.Lock()

    def encode(self, texts, passage=False):
        with self._lock:
            self.calls.append((list(texts), passage))
        time.sleep(self.delay)
        if self.fail_on in texts:
            raise RuntimeError(f"cannot encode {self.fail_on!r}")
        return np.array([[len(t), sum(map(ord, t)) % 97, float(passage), 1.0] for t in texts], dtype=np.float32)


def test_memory_cached_encoder_returns_the_same_vectors_and_encodes_each_text_once():
    fake = FakeEncoder()
    cached = MemoryCachedEncoder(fake, size=100)
    first = cached.encode(MESSAGES)
    again = cached.encode(list(reversed(MESSAGES)))
    np.testing.assert_array_equal(first, FakeEncoder().encode(MESSAGES))
    np.testing.assert_array_equal(again, first[::-1])
    assert [sorted(texts) for texts, _ in fake.calls] == [sorted(set(MESSAGES))]
    # Queries and passages are different vectors for the same text.
    assert cached.encode(["在吗"], passage=True)[0][2] == 1.0
    assert len(fake.calls) == 2


def test_memory_cached_encoder_is_bounded():
    fake = FakeEncoder()
    cached = MemoryCachedEncoder(fake, size=2)
    cached.encode(["a"]), cached.encode(["b"]), cached.encode(["c"])
    cached.encode(["a"])  # evicted by then: encoded again
    assert [texts for texts, _ in fake.calls] == [["a"], ["b"], ["c"], ["a"]]


def test_batching_encoder_merges_concurrent_calls_with_the_right_results():
    fake = FakeEncoder(delay=0.05)  # while one batch runs, the others queue up
    batching = BatchingEncoder(fake, max_batch=64, window=0.01)
    texts = [f"消息{i}" for i in range(24)]
    results: dict[int, np.ndarray] = {}

    def call(i):
        results[i] = batching.encode([texts[i]], passage=i % 3 == 0)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(results[i], FakeEncoder().encode([text], passage=i % 3 == 0))
    assert sum(len(batch) for batch, _ in fake.calls) == len(texts)
    assert len(fake.calls) < len(texts)  # calls were merged
    passage_of = {text: i % 3 == 0 for i, text in enumerate(texts)}
    for batch, passage in fake.calls:  # one call is all queries or all passages
        assert {passage_of[t] for t in batch} == {passage}


class FakeMixedEncoder(FakeEncoder):
    """Takes queries and passages in one call, as the ONNX encoder does."""

    def __init__(self, gate: threading.Event | None = None):
        super().__init__()
        self.mixed_calls: list[list[tuple[str, bool]]] = []
        self.gate = gate

    def encode_mixed(self, texts, passages):
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        with self._lock:
            self.mixed_calls.append(list(zip(texts, passages)))
        return np.vstack([FakeEncoder().encode([t], passage=p) for t, p in zip(texts, passages)])


def test_queries_and_passages_of_one_call_reach_the_encoder_together_and_come_back_in_order():
    fake = FakeMixedEncoder()
    encoder = MemoryCachedEncoder(BatchingEncoder(fake), size=100)
    texts, kinds = ["我165穿什么码", "亲，建议您拍M码哦", "在吗"], [False, True, False]
    vectors = encoder.encode_mixed(texts, kinds)
    for text, kind, vector in zip(texts, kinds, vectors):
        np.testing.assert_array_equal(vector, FakeEncoder().encode([text], passage=kind)[0])
    assert len(fake.mixed_calls) == 1 and sorted(fake.mixed_calls[0]) == sorted(zip(texts, kinds))
    # both kinds are cached: a second call reaches no encoder, and a text is a query and a passage apart
    np.testing.assert_array_equal(encoder.encode_mixed(texts[::-1], kinds[::-1]), vectors[::-1])
    assert encoder.encode(["在吗"], passage=True)[0][2] == 1.0
    assert len(fake.mixed_calls) == 2 and fake.mixed_calls[1] == [("在吗", True)]


def test_documents_are_segmented_while_the_encoder_works(segmenter):
    """make_documents hands the texts to the encoder and segments them before waiting for the vectors: here
    the encoder cannot finish until segmentation has run."""
    gate = threading.Event()

    def segment_then_open(text):
        gate.set()
        return segmenter(text)

    encoder = MemoryCachedEncoder(BatchingEncoder(FakeMixedEncoder(gate)), size=10)
    (doc,) = make_documents(["这件165穿M码可以吗"], segment_then_open, encoder)
    assert doc.tokens and doc.vector is not None


class FakeSpareEncoder(FakeMixedEncoder):
    """Records which calls came to `encode_spare` (all cores) and which to `encode_mixed` (one core a text)."""

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.spare_calls: list[list[str]] = []
        self.delay = delay

    def encode_mixed(self, texts, passages):
        time.sleep(self.delay)
        return super().encode_mixed(texts, passages)

    def encode_spare(self, texts, passages):
        with self._lock:
            self.spare_calls.append(list(texts))
        time.sleep(self.delay)
        return np.vstack([FakeEncoder().encode([t], passage=p) for t, p in zip(texts, passages)])


def test_a_lone_request_with_spare_cores_gets_every_core_and_others_do_not():
    fake = FakeSpareEncoder()
    encoder = MemoryCachedEncoder(BatchingEncoder(fake), size=100)
    encoder.encode(["在吗"])  # no request said the cores are spare
    token = SPARE_CORES.set(True)
    try:
        vector = encoder.encode(["能便宜点吗"])
    finally:
        SPARE_CORES.reset(token)
    np.testing.assert_array_equal(vector, FakeEncoder().encode(["能便宜点吗"]))
    assert fake.spare_calls == [["能便宜点吗"]] and fake.mixed_calls == [[("在吗", False)]]


def test_under_load_no_call_takes_every_core_even_if_it_says_the_cores_are_spare():
    """Calls queued together share one encoder call, each text on one core: encode_spare only serves a call
    that finds nothing queued with it."""
    fake = FakeSpareEncoder(delay=0.05)  # while the first call runs the others queue up
    batching = BatchingEncoder(fake, max_batch=64, window=0.01)
    texts = [f"消息{i}" for i in range(12)]

    def call(text):
        SPARE_CORES.set(True)  # each thread its own context
        batching.encode([text])

    threads = [threading.Thread(target=call, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spare = [t for call in fake.spare_calls for t in call]
    assert len(spare) <= 1 and sum(len(call) for call in fake.mixed_calls) == len(texts) - len(spare)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs a machine with two cores or more")
def test_the_encoder_uses_the_cores_the_process_may_run_on_not_the_machines(encoder, models_root):
    """A container limited to one core (docker --cpuset-cpus, a Kubernetes pod pinned by the CPU manager) still
    saw every core of its node in os.cpu_count(), and its encoder ran one thread per core it could not use."""
    script = (
        "import os, sys; from pathlib import Path; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from intents.encoder import load_default_encoder; "
        "e = load_default_encoder(Path(sys.argv[1]), solo=True); print(e.threads, e._solo is None)"
    )
    out = subprocess.run([sys.executable, "-c", script, str(models_root)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True"]  # one thread, and no second session for a core it does not have


def test_batching_encoder_hands_an_error_to_its_callers_and_keeps_working():
    batching = BatchingEncoder(FakeEncoder(fail_on="坏"))
    with pytest.raises(RuntimeError, match="cannot encode"):
        batching.encode(["坏"])
    assert batching.encode(["好"]).shape == (1, 4)
    assert batching.encode([]).shape == (0, 4)


def test_long_messages_are_embedded_from_their_first_characters(segmenter):
    fake = FakeEncoder()
    long = "这件衣服质量太差了" * 100
    (doc,) = make_documents([long], segmenter, fake)
    assert fake.calls == [([long[:EMBED_MAX_CHARS]], False)]
    assert doc.text == long and "".join(doc.tokens).replace(" ", "") == long.replace(" ", "")


@pytest.fixture(scope="module")
def intent_model(model_dir, encoder):
    model, _ = load_intent_model(model_dir / "intent", encoder.name)
    return model


@pytest.fixture(scope="module")
def docs(segmenter, encoder):
    from tests.conftest import HELDOUT

    lines = [l for l in (HELDOUT / "written.tsv").read_text(encoding="utf-8").splitlines() if l and not l.startswith("#")]
    return make_documents([l.split("\t", 1)[1] for l in lines[::5]], segmenter, encoder)


def test_neighbour_vote_equals_sklearns(intent_model, docs):
    from intents.classifier import VectorFeatures

    vectors = VectorFeatures._stack(docs)
    ours = intent_model._neighbor_votes(vectors)
    theirs = intent_model.neighbors_.predict_proba(vectors)
    # Where twin rows (one text, two labels) tie for the k-th place, either is a right answer: sklearn's pick
    # turns on rounding elsewhere in the row; ours is the lowest-numbered row, which a stable sort finds.
    k = intent_model.neighbors_.n_neighbors
    distance, _ = intent_model.neighbors_.kneighbors(vectors, n_neighbors=k + 1)
    tied = np.isclose(distance[:, k - 1], distance[:, k], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours[~tied], theirs[~tied], atol=1e-4)
    assert (ours[~tied].argmax(axis=1) == theirs[~tied].argmax(axis=1)).all()
    assert tied.sum() < len(docs) / 5
    similarities, labels = intent_model._neighbors_cache
    for row in np.flatnonzero(tied):
        query = vectors[row] / np.linalg.norm(vectors[row])
        scores = similarities.rows @ query
        chosen = np.argsort(-scores, kind="stable")[:k]
        weight = 1.0 / np.maximum(1.0 - scores[chosen].astype(np.float64), 1e-6)
        # labels are sklearn's class codes (neighbors_._y), 0 … n_classes - 1
        expected = np.bincount(labels[chosen], weights=weight, minlength=len(intent_model.neighbors_.classes_))
        np.testing.assert_allclose(ours[row], expected / expected.sum(), atol=1e-4)


@pytest.mark.parametrize("task", ["intent", "psychology"])
def test_linear_scores_equal_sklearns_pipeline(task, model_dir, encoder, segmenter, docs):
    from intents.models import load_psychology_model

    model = (load_intent_model if task == "intent" else load_psychology_model)(model_dir / task, encoder.name)[0]
    odd = make_documents(["", "😀", "？？？", "165/110斤 " * 40, "ＸＬ碼還有嗎"], segmenter, encoder)
    batch = [*docs, *odd]
    ours = model._linear().predict_proba(batch)
    theirs = model.pipeline_.predict_proba(batch)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model._linear().predict_proba(batch[:1]), theirs[:1], rtol=0, atol=1e-12)
    zero = [d._replace(vector=np.zeros_like(d.vector)) for d in batch[:5]]  # degraded mode: no encoder
    np.testing.assert_allclose(model._linear().predict_proba(zero), model.pipeline_.predict_proba(zero), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="dimensions"):
        model._linear().predict_proba([batch[0]._replace(vector=np.zeros(10))])


@pytest.mark.parametrize("task", ["intent", "psychology", "knowledge"])
def test_a_loaded_model_keeps_one_copy_of_its_weights_and_scores_as_trained(task, model_dir, encoder, docs):
    """Loading prepares the request-time paths from the fitted arrays themselves: the linear blocks are views
    of the SVM's weights (single precision, column-major), the neighbours keep only the normalised vectors.
    The probabilities stay those of the model as trained (double precision) to within 1e-6."""
    import joblib

    from intents.models import MODEL_FILE, load_model

    model, _ = load_model(task, model_dir / task, encoder.name)
    svm = model.pipeline_.named_steps["model"].calibrated_classifiers_[0].estimator
    assert svm.coef_.dtype == np.float32 and svm.coef_.flags.f_contiguous
    blocks = [block.coef if kind == "tfidf" else block[1] for kind, block in model._linear().blocks]
    assert all(np.shares_memory(b, svm.coef_) for b in blocks)
    assert np.shares_memory(model.neighbors_._fit_X, model._neighbors_cache[0].rows)
    as_trained = joblib.load(model_dir / task / MODEL_FILE)
    assert as_trained.pipeline_.named_steps["model"].calibrated_classifiers_[0].estimator.coef_.dtype == np.float64
    np.testing.assert_allclose(model.predict_proba(docs), as_trained.predict_proba(docs), rtol=0, atol=1e-6)


def test_explanations_read_the_same_word_weights_as_sklearn(intent_model, segmenter, encoder):
    from intents.classifier import TfidfVectorizer

    (doc,) = make_documents(["亲 165 110斤 穿什么尺码合适"], segmenter, encoder)
    words = intent_model.pipeline_.named_steps["features"].transformer_list[0][1]
    assert isinstance(words, TfidfVectorizer)
    row = words.transform([doc])
    idx, values = intent_model._linear().word_row(doc)
    assert len(idx) > 3
    assert sorted(zip(idx.tolist(), values.round(12).tolist())) == sorted(zip(row.indices.tolist(), row.data.round(12).tolist()))


def test_a_training_text_takes_the_whole_vote_shared_with_its_twins(intent_model, segmenter, encoder):
    from intents.classifier import VectorFeatures
    from intents.build.data import load_examples

    two = next(e for e in load_examples() if len(e.labels) == 2 and len(set(e.labels)) == 2)
    vectors = VectorFeatures._stack(make_documents([two.text], segmenter, encoder))
    votes = dict(zip(intent_model.neighbors_.classes_, intent_model._neighbor_votes(vectors)[0]))
    twins = sum(1 for e in load_examples() if e.text == two.text for _ in e.labels)
    assert {label for label, vote in votes.items() if vote > 0} >= set(two.labels)
    for label in two.labels:
        assert votes[label] >= 1 / twins - 1e-9


def test_cached_probabilities_equal_the_models(intent_model, docs):
    cached = CachedProbabilities(intent_model, size=1000)
    # Equal up to float rounding, which depends on the batch a row was computed in.
    np.testing.assert_allclose(cached.predict_proba(docs), intent_model.predict_proba(docs), atol=1e-5)
    np.testing.assert_allclose(cached.predict_proba(docs[::-1]), intent_model.predict_proba(docs[::-1]), atol=1e-5)
    assert list(cached.classes_) == list(intent_model.classes_)


def entry(i: int) -> AuditEntry:
    return AuditEntry(
        id=f"req{i:05d}", endpoint="suggest", normalized="在吗", masked="在吗", tokens=["在", "吗"],
        intents=[("greeting", 0.9), ("other", 0.1)], replies=["etiquette-open-001"], model_version="test", latency_ms=1.0,
    )


def test_buffered_audit_rows_are_read_back_at_once_and_flushed_on_close(tmp_path):
    store = Store(tmp_path / "audit.db", flush_interval=60.0)  # the writer would wait a minute
    store.audit.record([entry(i) for i in range(50)])
    assert store.records.get_request("req00049") is not None  # a read flushes what is queued
    store.audit.record([entry(i) for i in range(50, 80)])
    store.close()
    reopened = Store(tmp_path / "audit.db")
    assert reopened.database.db["requests"].count == 80
    reopened.close()


def test_the_writer_commits_queued_rows_without_being_asked(tmp_path):
    store = Store(tmp_path / "audit.db", flush_interval=0.01)
    store.audit.record([entry(i) for i in range(10)])
    deadline = time.monotonic() + 10
    while store.audit.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.audit.pending == 0
    import sqlite3

    assert sqlite3.connect(tmp_path / "audit.db").execute("select count(*) from requests").fetchone() == (10,)
    store.close()


def test_a_damaged_embedding_cache_is_rebuilt_not_raised(tmp_path):
    import zipfile

    DiskCachedEncoder(FakeEncoder(), tmp_path).encode(MESSAGES)
    (path,) = tmp_path.glob("*.npz")
    member = zipfile.ZipFile(path).getinfo("vectors.npy")
    raw = bytearray(path.read_bytes())
    header = raw[member.header_offset : member.header_offset + 30]
    start = member.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    raw[start + member.compress_size - 1] ^= 0xFF  # the stored bytes no longer match the archive's checksum
    path.write_bytes(bytes(raw))
    fake = FakeEncoder()
    again = DiskCachedEncoder(fake, tmp_path).encode(MESSAGES)
    assert fake.calls  # nothing trusted from the damaged file: encoded again
    np.testing.assert_array_equal(again, FakeEncoder().encode(MESSAGES))


# Several worker processes start at once on one model folder, and each embeds what the cache lacks.
_WRITER = """
import sys
from pathlib import Path
from intents.encoder import DiskCachedEncoder
from tests.test_runtime import FakeEncoder

folder, name = Path(sys.argv[1]), sys.argv[2]
for i in range(40):
    DiskCachedEncoder(FakeEncoder(), folder).encode([f"{name} {i} {j}" for j in range(50)])
"""


def test_processes_filling_one_embedding_cache_at_once_leave_it_readable(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name], cwd=root, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b", "c")
    ]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], errors
    fake = FakeEncoder()
    cache = DiskCachedEncoder(fake, tmp_path)
    assert len(cache._cache) >= 50 * 40  # one writer's texts at least: the last save of each holds all it embedded
    assert not list(tmp_path.glob("*.tmp*"))  # no temporary file left behind
