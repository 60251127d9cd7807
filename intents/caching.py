"""Request-time speed of the reading: bounded caches of embeddings and model probabilities, and encoder micro-batching.

Shop traffic repeats itself (在吗, 能便宜点吗, 什么时候发货) and a conversation's earlier turns come
back as history with every new message: a repeated normalised text costs a dictionary lookup, not
an encoder call. Texts not cached yet from requests arriving together share one encoder call.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from contextvars import ContextVar
from typing import Callable, Sequence

import numpy as np
from cachetools import LRUCache

from intents import telemetry
from intents.classifier import Document
from intents.encoder import Encoder, encode_mixed


# Set by a request that has the machine to itself (no other suggestion in progress): a text it alone sends
# the encoder may run on every core (`OnnxE5Encoder.encode_spare`). Under load each text keeps to one core.
SPARE_CORES: ContextVar[bool] = ContextVar("spare_cores", default=False)


def _ready(vectors: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: vectors


class MemoryCachedEncoder:
    """An encoder with a bounded LRU cache of vectors keyed by (query or passage, text)."""

    def __init__(self, encoder: Encoder, size: int):
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self._cache: LRUCache = LRUCache(maxsize=max(size, 1))
        self._lock = threading.Lock()
        self.enabled = size > 0

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        if not self.enabled:
            return self.encoder.encode(texts, passage=passage)
        return self.encode_mixed(texts, [passage] * len(texts))

    def encode_mixed(self, texts: list[str], passages: list[bool]) -> np.ndarray:
        """Queries and passages together: what is not cached goes to the encoder in one call."""
        return self.submit(texts, passages)()

    def submit(self, texts: list[str], passages: list[bool] | None = None) -> Callable[[], np.ndarray]:
        """Start encoding what is not cached and return at once: calling the result waits for the
        vectors (the caller segments the text meanwhile). Queries unless `passages` says otherwise."""
        passages = passages if passages is not None else [False] * len(texts)
        if not self.enabled:
            return _ready(encode_mixed(self.encoder, texts, passages))
        keys = [("p" if passage else "q", text) for text, passage in zip(texts, passages)]
        with self._lock:
            out: list[np.ndarray | None] = [self._cache.get(key) for key in keys]
        missing = sorted({key for key, v in zip(keys, out) if v is None})
        telemetry.cache_lookups("embeddings", len(texts) - len(missing), len(missing))
        pending = None
        if missing:
            missing_texts, missing_kinds = [t for _, t in missing], [k == "p" for k, _ in missing]
            if hasattr(self.encoder, "submit"):
                pending = self.encoder.submit(missing_texts, missing_kinds)
            else:
                pending = _ready(encode_mixed(self.encoder, missing_texts, missing_kinds))

        def result() -> np.ndarray:
            filled = out
            if pending is not None:
                fresh = dict(zip(missing, pending()))
                with self._lock:
                    for key, vector in fresh.items():
                        self._cache[key] = vector
                filled = [fresh[key] if v is None else v for key, v in zip(keys, out)]
            if not texts:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.vstack(filled).astype(np.float32, copy=False)

        return result


class BatchingEncoder:
    """Gathers concurrent `encode` calls into one call of the wrapped encoder (dynamic micro-batching).

    A single thread owns the encoder. It takes the first waiting call, then every call already
    queued behind it; when more than one request was waiting (the service is under load), it
    also waits up to `window` seconds for more, up to `max_batch` texts. A lone request never
    waits. Errors reach every caller of the failed batch. A call made with SPARE_CORES set that
    finds nothing queued with it goes to the encoder's `encode_spare` where it has one.
    """

    def __init__(self, encoder: Encoder, max_batch: int = 64, window: float = 0.002):
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.max_batch = max(max_batch, 1)
        self.window = max(window, 0.0)
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="encoder-batcher", daemon=True)
        self._thread.start()

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        return self.encode_mixed(texts, [passage] * len(texts))

    def encode_mixed(self, texts: list[str], passages: list[bool]) -> np.ndarray:
        """Queries and passages of one caller, in one call of the wrapped encoder where it takes both."""
        return self.submit(texts, passages)()

    def submit(self, texts: list[str], passages: list[bool]) -> Callable[[], np.ndarray]:
        """Queue the texts and return at once; calling the result waits for their vectors."""
        if not texts:
            return _ready(np.zeros((0, self.dim), dtype=np.float32))
        future: Future = Future()
        self._queue.put((list(texts), list(passages), future, SPARE_CORES.get()))
        return future.result

    def _gather(self, first) -> list:
        """`first` and every call queued behind it; once more than one was waiting (load), also
        those arriving within the window."""
        batch, size = [first], len(first[0])
        deadline = None
        while size < self.max_batch:
            if deadline is None and len(batch) > 1 and self.window:
                deadline = time.monotonic() + self.window
            left = 0.0 if deadline is None else deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            size += len(item[0])
        return batch

    def _run(self) -> None:
        while True:
            batch = self._gather(self._queue.get())
            texts = [t for item in batch for t in item[0]]
            passages = [p for item in batch for p in item[1]]
            telemetry.ENCODER_BATCH.observe(len(texts))
            try:
                if len(batch) == 1 and batch[0][3] and self._queue.empty() and hasattr(self.encoder, "encode_spare"):
                    vectors = self.encoder.encode_spare(texts, passages)
                else:
                    vectors = encode_mixed(self.encoder, texts, passages)
            except BaseException as exc:  # noqa: BLE001 - handed to the callers, who raise it
                for _, _, future, _ in batch:
                    future.set_exception(exc)
                continue
            start = 0
            for texts_of, _, future, _ in batch:
                future.set_result(vectors[start : start + len(texts_of)])
                start += len(texts_of)


class CachedProbabilities:
    """A fitted classifier whose `predict_proba` remembers each normalised text's row (bounded LRU).

    Everything else (classes_, explain, …) is the wrapped model's.
    """

    def __init__(self, model, size: int, name: str = "probabilities"):
        self.model = model
        self.name = name  # the cache's name in the metrics
        self._cache: LRUCache = LRUCache(maxsize=max(size, 1))
        self._lock = threading.Lock()
        self.enabled = size > 0

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def predict_proba(self, docs: Sequence[Document]) -> np.ndarray:
        docs = list(docs)
        if not self.enabled:
            return self.model.predict_proba(docs)
        with self._lock:
            rows = [self._cache.get(doc.text) for doc in docs]
        todo = [i for i, row in enumerate(rows) if row is None]
        telemetry.cache_lookups(self.name, len(docs) - len(todo), len(todo))
        if todo:
            fresh = self.model.predict_proba([docs[i] for i in todo])
            with self._lock:
                for i, row in zip(todo, fresh):
                    rows[i] = row
                    self._cache[docs[i].text] = row
        return np.vstack(rows) if rows else self.model.predict_proba(docs)
