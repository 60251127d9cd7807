"""The labelled examples: format, coverage, and independence from the held-out sets."""

from collections import Counter

import pytest

from intents.build.data import ExampleFormatError, data_hash, duplicate_texts, load_examples, read_examples
from intents.normalize import normalize
from tests.conftest import HELDOUT


@pytest.fixture(scope="module")
def examples():
    return load_examples()


def test_enough_examples_per_intent(examples):
    counts = Counter(label for ex in examples for label in ex.labels)
    for intent in ("size", "bargain", "logistics", "complaint", "refund"):
        assert counts[intent] >= 150, intent
    for intent in ("product", "greeting", "other"):
        assert counts[intent] >= 80, intent


def test_some_examples_carry_two_intents(examples):
    assert sum(len(ex.labels) > 1 for ex in examples) >= 100


def test_no_repeated_messages(examples):
    assert duplicate_texts(examples) == []


def test_heldout_sets_share_no_sentence_with_training(examples):
    # The held-out sets only measure honestly while no sentence of theirs,
    # after normalisation, is also a training example.
    training = {normalize(ex.text) for ex in examples}
    for name in ("written.tsv", "real_style.tsv"):
        leaked = [ex.text for ex in read_examples(HELDOUT / name) if normalize(ex.text) in training]
        assert leaked == [], name


def test_data_hash_depends_on_text_and_labels(examples):
    assert data_hash(examples) == data_hash(list(examples))
    assert data_hash(examples[:-1]) != data_hash(examples)


@pytest.mark.parametrize(
    "content, problem",
    [
        ("size 165穿多大\n", r":1: expected '<intent ids><TAB><message>'"),
        ("size\t\n", r":1: empty message"),
        ("# c\nsizes\t165穿多大\n", r":2: unknown intent id 'sizes'"),
        ("size,size\t165穿多大\n", r":1: intent id repeated"),
        ("\t165穿多大\n", r":1: no intent id"),
    ],
)
def test_bad_record_names_file_line_and_reason(tmp_path, content, problem):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ExampleFormatError, match=r"bad.tsv" + problem):
        read_examples(path)
