"""A lean copy of e5's tokenizer for the service: the pieces a Chinese shop's chat can contain, and the
model ids they stand for.

multilingual-e5's Unigram vocabulary has 250,002 pieces for a hundred languages; `tokenizers` holds them in
about 280 MB. The lean copy keeps every piece made only of characters from ASCII, Latin-1, Greek, general
punctuation and symbols, combining marks, CJK (with kana and full-width forms), variation selectors and
emoji: about half the pieces, a third of the memory. A text made only of such characters (after the
tokenizer's own normalisation) is segmented exactly as by the full vocabulary: every piece that could match
it is kept, so Unigram's best path over them is unchanged. A character outside them (Cyrillic, Arabic,
Hangul …) becomes <unk>. The ids file maps each lean id to the model's id, so the encoder's input is the
same.

The service reads the lean pieces through sentencepiece, not `tokenizers`: `tokenizers` keeps a Unigram
vocabulary in a trie of hash maps (115 MB for the lean pieces), sentencepiece in a double-array trie (under
25 MB with the normaliser). `write_lean_sentencepiece` writes the same pieces and scores as a sentencepiece
model, and e5's character normalisation apart (`LEAN_CHARSMAP_FILE`: sentencepiece 0.2.3 refuses the charsmap
this tokenizer carries, so `tokenizers` applies it, a small object). Both libraries find Unigram's best path
over the same scores; where two segmentations score exactly the same (a tie, seen only in long runs of digits
and dots: 4 texts of 55,000 we tried) they may keep different ones. Training and serving both read through
sentencepiece, so a text always gets the same ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from intents.encoder import (
    LEAN_CHARSMAP_FILE,
    LEAN_IDS_FILE,
    LEAN_MODEL_FILE,
    LEAN_SPM_FILE,
    LEAN_TABLE_FILE,
    LEAN_TOKENIZER_FILE,
    ONNX_MODEL_FILE,
    TOKENIZER_FILE,
)

KEPT_RANGES = (
    (0x0000, 0x007F),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1: ° × ² é …
    (0x0300, 0x036F),  # combining marks: what the normaliser (NFKC) makes of ´ ¨ and the like
    (0x0370, 0x03FF),  # Greek: μ ω α
    (0x2000, 0x2BFF),  # punctuation, super/subscripts, currency, letterlike, arrows, maths, shapes, dingbats; ▁
    (0x2E80, 0x9FFF),  # CJK radicals and punctuation, kana, bopomofo, CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE00, 0xFE4F),  # variation selectors (emoji presentation), vertical and CJK compatibility forms
    (0xFF00, 0xFFEF),  # full-width forms
    (0x1F000, 0x1FAFF),  # emoji and pictographs
    (0x20000, 0x3FFFF),  # CJK extensions
)


def kept(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in KEPT_RANGES)


def write_lean_tokenizer(folder: Path) -> int:
    """Write LEAN_TOKENIZER_FILE and LEAN_IDS_FILE beside the full tokenizer in `folder`; returns the
    number of pieces kept."""
    folder = Path(folder)
    full = json.loads((folder / TOKENIZER_FILE).read_text(encoding="utf-8"))
    model = full["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"{folder / TOKENIZER_FILE}: a Unigram tokenizer was expected, not {model.get('type')!r}")
    special = {token["id"] for token in full.get("added_tokens", [])}
    ids = [i for i, (piece, _) in enumerate(model["vocab"]) if i in special or all(kept(ch) for ch in piece)]
    lean_of = {old: new for new, old in enumerate(ids)}
    lean = dict(full)
    lean["model"] = {**model, "vocab": [model["vocab"][i] for i in ids]}
    if model.get("unk_id") is not None:
        lean["model"]["unk_id"] = lean_of[model["unk_id"]]
    lean["added_tokens"] = [{**token, "id": lean_of[token["id"]]} for token in full.get("added_tokens", [])]
    processor = full.get("post_processor")
    if processor and processor.get("type") == "TemplateProcessing":
        lean["post_processor"] = {
            **processor,
            "special_tokens": {
                name: {**spec, "ids": [lean_of[i] for i in spec["ids"]]} for name, spec in processor["special_tokens"].items()
            },
        }
    (folder / LEAN_TOKENIZER_FILE).write_text(json.dumps(lean, ensure_ascii=False), encoding="utf-8")
    np.save(folder / LEAN_IDS_FILE, np.asarray(ids, dtype=np.int64))
    return len(ids)


# What `LeanTokenizer` reproduces of e5's tokenizer.json around the Unigram model; anything else is refused.
EXPECTED_PRE_TOKENIZER = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
EXPECTED_REPLACE = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}


def write_lean_sentencepiece(folder: Path) -> None:
    """Write LEAN_SPM_FILE (the lean Unigram pieces and scores as a sentencepiece model, normalising nothing)
    and LEAN_CHARSMAP_FILE (e5's character map) from LEAN_TOKENIZER_FILE. Needs `protobuf` (a build
    dependency, through onnx) for sentencepiece's model format."""
    import base64

    from sentencepiece import sentencepiece_model_pb2 as spm_model

    folder = Path(folder)
    lean = json.loads((folder / LEAN_TOKENIZER_FILE).read_text(encoding="utf-8"))
    model, normalizer = lean["model"], lean.get("normalizer") or {}
    steps = normalizer.get("normalizers", []) if normalizer.get("type") == "Sequence" else []
    processor = lean.get("post_processor") or {}
    single = [next(iter(step.values()))["id"] for step in processor.get("single", [])]
    problems = [
        what for what, ok in (
            ("a Unigram model without byte fallback", model.get("type") == "Unigram" and not model.get("byte_fallback")),
            ("a precompiled charsmap, then runs of spaces made one",
             len(steps) == 2 and steps[0].get("type") == "Precompiled" and steps[1] == EXPECTED_REPLACE),
            (f"the pre-tokenizer {EXPECTED_PRE_TOKENIZER}", lean.get("pre_tokenizer") == EXPECTED_PRE_TOKENIZER),
            ("<s> text </s>", processor.get("type") == "TemplateProcessing" and single == ["<s>", "A", "</s>"]),
        ) if not ok
    ]
    if problems:
        raise ValueError(f"{folder / LEAN_TOKENIZER_FILE}: sentencepiece reproduces e5's tokenizer only; expected "
                         + "; ".join(problems))
    proto = spm_model.ModelProto()
    kinds = spm_model.ModelProto.SentencePiece
    added = {token["content"] for token in lean.get("added_tokens", [])}
    for i, (piece, score) in enumerate(model["vocab"]):
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, score
        # the added tokens (<s> </s> <pad> <mask>) are matched in the text as whole pieces, as `tokenizers` does
        entry.type = kinds.UNKNOWN if i == model["unk_id"] else kinds.USER_DEFINED if piece in added else kinds.NORMAL
    proto.trainer_spec.model_type = spm_model.TrainerSpec.UNIGRAM
    proto.trainer_spec.unk_id = model["unk_id"]
    proto.trainer_spec.bos_id = proto.trainer_spec.eos_id = proto.trainer_spec.pad_id = -1  # added by LeanTokenizer
    proto.trainer_spec.byte_fallback = False
    proto.normalizer_spec.name = "identity"  # normalised before: LEAN_CHARSMAP_FILE, then runs of spaces made one
    proto.normalizer_spec.add_dummy_prefix = False  # LeanTokenizer adds the leading "▁" where Metaspace does
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = True  # " " → "▁"
    (folder / LEAN_SPM_FILE).write_bytes(proto.SerializeToString())
    (folder / LEAN_CHARSMAP_FILE).write_bytes(base64.b64decode(steps[0]["precompiled_charsmap"]))


WORD_EMBEDDINGS = "word_embeddings.weight_quantized"  # the int8 table the model's first Gather reads


def write_lean_model(folder: Path) -> None:
    """Write LEAN_MODEL_FILE: the ONNX model with its word-embedding table cut to the lean pieces' rows, in
    lean id order, so lean ids go in unchanged (the table is the only reader of the ids but for their
    shape); and that table alone as LEAN_TABLE_FILE, for the service's sessions to share. Needs LEAN_IDS_FILE
    (`write_lean_tokenizer`) and the `onnx` package (a build dependency)."""
    import onnx
    from onnx import numpy_helper

    folder = Path(folder)
    ids = np.load(folder / LEAN_IDS_FILE)
    model = onnx.load(str(folder / ONNX_MODEL_FILE))
    tables = [t for t in model.graph.initializer if t.name.endswith(WORD_EMBEDDINGS)]
    if len(tables) != 1:
        raise ValueError(f"{folder / ONNX_MODEL_FILE}: expected one table named *{WORD_EMBEDDINGS}, found {len(tables)}")
    (table,) = tables
    readers = [n for n in model.graph.node if "input_ids" in n.input and n.op_type != "Shape"]
    if [(n.op_type, list(n.input)) for n in readers] != [("Gather", [table.name, "input_ids"])]:
        raise ValueError(f"{folder / ONNX_MODEL_FILE}: input_ids are read by more than the word-embedding Gather")
    rows = np.ascontiguousarray(numpy_helper.to_array(table)[ids])
    table.CopyFrom(numpy_helper.from_array(rows, table.name))
    onnx.save(model, str(folder / LEAN_MODEL_FILE))
    np.savez(folder / LEAN_TABLE_FILE, **{table.name: rows})  # the sessions' one shared copy (intents.encoder)
