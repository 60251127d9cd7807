"""How well the intent model does: cross-validation on our examples, and held-out sets it never saw."""

import pytest

from intents.classifier import IntentClassifier, make_documents
from intents.build.data import load_examples, read_examples
from intents.build.evaluate import cross_validate
from intents.metrics import score
from intents.labels import INTENTS
from intents.build.training import documents
from intents.models import load_intent_model
from tests.conftest import HELDOUT

CORE = {"size", "bargain", "logistics", "complaint", "refund"}


def core(intent: str) -> str:
    """The product brief scores five core intents; product, greeting and other count as other."""
    return intent if intent in CORE else "other"


@pytest.fixture(scope="module")
def model(model_dir):
    return load_intent_model(model_dir / "intent")[0]


@pytest.mark.slow
def test_cross_validation_macro_f1(segmenter, encoder):
    examples = load_examples()
    scores = cross_validate(IntentClassifier(), documents(examples, segmenter, encoder), [e.labels for e in examples], INTENTS)
    assert scores.macro_f1 >= 0.90, scores.as_dict()


@pytest.mark.parametrize("name, floor", [("written.tsv", 0.95), ("real_style.tsv", 0.90)])
def test_heldout_core_intent_accuracy(model, segmenter, encoder, name, floor):
    heldout = read_examples(HELDOUT / name)
    predicted = model.predict(make_documents([e.text for e in heldout], segmenter, encoder))
    right = [core(p) in {core(label) for label in e.labels} for e, p in zip(heldout, predicted)]
    assert sum(right) / len(right) >= floor


def test_heldout_eight_intent_scores_are_reported(model, segmenter, encoder):
    heldout = read_examples(HELDOUT / "written.tsv")
    scores = score([e.labels for e in heldout], model.predict(make_documents([e.text for e in heldout], segmenter, encoder)), INTENTS)
    assert scores.accuracy >= 0.9
    assert sum(map(sum, scores.confusion)) == len(heldout)


def test_probabilities_cover_every_intent_and_sum_to_one(model, segmenter, encoder):
    docs = make_documents(["在吗", "质量太差了 我要退货", "165穿多大"], segmenter, encoder)
    probs = model.predict_proba(docs)
    assert probs.shape == (3, len(INTENTS))
    assert probs.sum(axis=1) == pytest.approx([1.0, 1.0, 1.0])


def test_model_without_vectors_is_refused_clearly(model, segmenter):
    with pytest.raises(ValueError, match="sentence vectors"):
        model.predict(make_documents(["在吗"], segmenter, None))
