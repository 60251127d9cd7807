"""Train and save the intent and psychology models with their provenance (metadata.json beside each), and promote versions.

Loading them is the service's side: `intents.models`."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import joblib

from intents.build.data import EXAMPLES_DIR, PSYCHOLOGY_DIR, Example, data_hash
from intents.build.evaluate import cross_validate
from intents.classifier import Document, IntentClassifier, make_documents
from intents.encoder import Encoder
from intents.labels import INTENTS, PSYCHOLOGY_CLASSES
from intents.metrics import Scores
from intents.models import METADATA_FILE, MODEL_FILE, NO_POINT, VERSIONS_DIR, ModelLoadError, library_versions, load_model
from intents.psychology import PSYCHOLOGY_CUES, PsychologyReader, new_psychology_model
from intents.resources import Source
from intents.segment import Segmenter
from service.replies.knowledge import KNOWLEDGE_DIR, load_knowledge, read_unmatched


def knowledge_examples(source: Source = KNOWLEDGE_DIR, known=None, kind: str = "knowledge") -> list[Example]:
    """The knowledge points' phrasings, each labelled with its point, and the messages no point answers
    on its own (`unmatched.tsv` beside them), labelled `none`."""
    examples = [Example(text, (p.id,), p.id) for p in load_knowledge(source) for text in p.phrasings]
    unmatched = source / "unmatched.tsv" if source.is_dir() else None
    if unmatched is not None and unmatched.is_file():
        for kind_, texts in read_unmatched(unmatched).items():
            examples += [Example(text, (NO_POINT,), f"unmatched {kind_}") for text in texts]
    return examples


@dataclass(frozen=True)
class Task:
    """One thing a model learns: its classes (None: the labels its examples use), where its examples
    live, how they are read, and how a fresh model is made for given classes."""

    name: str
    classes: tuple[str, ...] | None
    examples: Source
    new_model: Callable[[tuple[str, ...]], IntentClassifier]
    read: Callable | None = None  # (source, classes, kind) -> examples; None: labelled TSV files

    def classes_of(self, examples: list[Example]) -> tuple[str, ...]:
        if self.classes is not None:
            return self.classes
        labels = tuple(dict.fromkeys(label for ex in examples for label in ex.labels if label != NO_POINT))
        return labels + (NO_POINT,)


TASKS: dict[str, Task] = {
    "intent": Task("intent", INTENTS, EXAMPLES_DIR, lambda classes: IntentClassifier(classes=classes)),
    "psychology": Task("psychology", PSYCHOLOGY_CLASSES, PSYCHOLOGY_DIR, lambda classes: new_psychology_model()),
    # Which knowledge point a message asks about: one class per point, and `none`.
    "knowledge": Task("knowledge", None, KNOWLEDGE_DIR, lambda classes: IntentClassifier(classes=classes), knowledge_examples),
}


def documents(
    examples: list[Example],
    segmenter: Segmenter,
    encoder: Encoder | None,
    progress: Callable[[str, int, int], None] | None = None,
    chunk: int = 256,
) -> list[Document]:
    """Documents for the examples, built in chunks so a long first embedding run shows progress."""
    docs: list[Document] = []
    for start in range(0, len(examples), chunk):
        docs += make_documents([ex.text for ex in examples[start : start + chunk]], segmenter, encoder)
        if progress:
            progress("embed examples", len(docs), len(examples))
    return docs


def psychology_cv_predict(docs: list[Document], intent_model: IntentClassifier | None):
    """A cross-validation predictor scoring the whole psychology reading: model, intents and cues."""
    intents = [dict(ranked) for ranked in intent_model.rank(docs)] if intent_model is not None else None
    matcher = PsychologyReader.load_cues()

    def predict(model: IntentClassifier, rows: list[int]) -> list[str]:
        reader = PsychologyReader(model, matcher)
        return reader.predict([docs[i] for i in rows], [intents[i] for i in rows] if intents else None)

    return predict


def train_model(
    task: Task,
    examples: list[Example],
    segmenter: Segmenter,
    encoder: Encoder,
    out_dir: Path,
    cv_folds: int = 5,
    progress: Callable[[str, int, int], None] | None = None,
    intent_model: IntentClassifier | None = None,
    extra_metadata: dict | None = None,
) -> dict:
    """Cross-validate, fit on all examples, and write the model and its metadata to `out_dir`.

    For psychology, cross-validation scores the full reading (cues and the
    message's intents from `intent_model` included), as the service reads it.
    """
    out_dir = Path(out_dir)
    docs = documents(examples, segmenter, encoder, progress)
    label_sets = [ex.labels for ex in examples]
    classes = task.classes_of(examples)
    estimator = task.new_model(classes)
    scores: Scores | None = None
    if cv_folds > 1:
        scores = cross_validate(
            estimator,
            docs,
            label_sets,
            classes,
            folds=cv_folds,
            progress=(lambda k: progress("cross-validation", k, cv_folds)) if progress else None,
            predict=psychology_cv_predict(docs, intent_model) if task.name == "psychology" else None,
        )
    model = estimator.fit(docs, label_sets)
    if progress:
        progress("fit", 1, 1)
    now = datetime.now(timezone.utc)
    digest = data_hash(examples)
    metadata = {
        "model": task.name,
        "version": f"{task.name}-{now:%Y%m%d%H%M%S}-{digest[:8]}",
        "created": now.isoformat(timespec="seconds"),
        "classes": list(classes),
        "params": {k: v for k, v in estimator.get_params().items() if k != "classes"},
        "data": {
            "hash": digest,
            "examples": len(examples),
            "per_label": dict(Counter(ex.label for ex in examples).most_common()),
            "shop_dict": segmenter.dictionary.name,
        },
        "encoder": encoder.name,
        "libraries": library_versions(),
        "cv": {"folds": cv_folds, **scores.as_dict()} if scores else None,
    }
    if task.name == "psychology":
        metadata["cues"] = {
            "file": PSYCHOLOGY_CUES.name,
            "hash": hashlib.sha256(PSYCHOLOGY_CUES.read_bytes()).hexdigest(),
        }
        metadata["cv_intents"] = intent_model is not None
    metadata.update(extra_metadata or {})
    out_dir.mkdir(parents=True, exist_ok=True)
    # Write to temporary names, then rename: a crash mid-write never leaves a
    # half-written model where the service would load it.
    tmp_model, tmp_meta = out_dir / f".{MODEL_FILE}.tmp", out_dir / f".{METADATA_FILE}.tmp"
    joblib.dump(model, tmp_model)
    tmp_meta.write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp_model.replace(out_dir / MODEL_FILE)
    tmp_meta.replace(out_dir / METADATA_FILE)
    return metadata


def train_intent_model(examples: list[Example], segmenter: Segmenter, encoder: Encoder, out_dir: Path, **kwargs) -> dict:
    return train_model(TASKS["intent"], examples, segmenter, encoder, out_dir, **kwargs)


def train_psychology_model(
    examples: list[Example], segmenter: Segmenter, encoder: Encoder, out_dir: Path, **kwargs
) -> dict:
    return train_model(TASKS["psychology"], examples, segmenter, encoder, out_dir, **kwargs)


def promote(model_dir: Path, version: str, task: Task) -> tuple[str | None, str]:
    """Make `model_dir/versions/<version>` the model the service loads, keeping the current one
    under `versions/` for a roll-back. Returns (previous version, promoted version)."""
    model_dir = Path(model_dir)
    source = model_dir / VERSIONS_DIR / version
    if not (source / MODEL_FILE).exists():
        known = sorted(p.name for p in (model_dir / VERSIONS_DIR).glob("*") if (p / MODEL_FILE).exists())
        raise ModelLoadError(f"no version {version!r} in {model_dir / VERSIONS_DIR} (known: {', '.join(known) or 'none'})")
    load_model(task.name, source)  # refuse to promote what the service could not load
    previous = None
    if (model_dir / METADATA_FILE).exists():
        previous = json.loads((model_dir / METADATA_FILE).read_text(encoding="utf-8"))["version"]
        keep = model_dir / VERSIONS_DIR / previous
        if not keep.exists():
            keep.mkdir(parents=True)
            for name in (MODEL_FILE, METADATA_FILE):
                shutil.copy2(model_dir / name, keep / name)
    for name in (MODEL_FILE, METADATA_FILE):
        tmp = model_dir / f".{name}.promote"
        shutil.copy2(source / name, tmp)
        tmp.replace(model_dir / name)
    return previous, version
