"""The shape the service keeps: the server runs without the build code, the wheel serves from anywhere,
and shared reply state is safe under concurrent additions."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import venv
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient


ROOT = Path(__file__).resolve().parent.parent
SHOP = {"intents": ["product"], "stage": "售前", "category": "answer"}


def test_shop_additions_race_ranking_and_listing_without_an_error(fake_client):
    """300 shop replies added while 3 threads rank and 1 lists: every reader sees a whole snapshot."""
    replies = fake_client.app.state.replies
    analyzer = fake_client.app.state.analyzer
    guidance = fake_client.app.state.guidance
    readings = analyzer.read_batch(["这件是纯棉的吗", "能便宜点吗", "快递到哪了"])
    errors: list[BaseException] = []
    done = threading.Event()

    def keep(work):
        def run():
            try:
                while not done.is_set():
                    work()
                    time.sleep(0.001)  # leave the interpreter lock to the writer now and then
            except BaseException as exc:  # noqa: BLE001 - every failure is the test's business
                errors.append(exc)

        return threading.Thread(target=run)

    def rank():
        for reading in readings:
            offer = replies.suggest(reading, guidance.for_reading(reading), top_k=5)
            assert offer.replies

    def listing():
        shop = replies.list(None, None, "shop", None)
        assert all(r.source == "shop" for r in shop)

    readers = [keep(rank) for _ in range(3)] + [keep(listing)]
    for t in readers:
        t.start()
    try:
        for i in range(300):
            record = {"id": f"race-{i:03d}", "text": f"亲，这款第{i}号面料是棉混纺的，手感柔软透气哦~", **SHOP}
            replies.add_shop_reply(record, lambda _: None)
    finally:
        done.set()
        for t in readers:
            t.join()
    assert errors == []
    assert len(replies.list(None, None, "shop", None)) >= 300
    assert len(replies.index.ids) == replies.index.text_vectors.shape[0] == len(replies.index.corpus)


def test_qa_endpoints_answer_while_the_models_load(fake_settings, tmp_path):
    from service.api.app import create_app

    release = threading.Event()

    def slow_loader(settings, library):
        release.wait(30)
        raise RuntimeError("never mind")

    app = create_app(fake_settings.model_copy(update={"db_path": tmp_path / "qa.db"}), loader=slow_loader)
    with TestClient(app) as client:
        assert client.get("/readyz").json()["status"] == "loading"
        assert client.post("/v1/suggest", json={"message": "在吗"}).status_code == 503
        for path in ("/v1/audit", "/v1/audit/queue", "/v1/reports/intents", "/v1/export"):
            assert client.get(path).status_code == 200, path
        release.set()
        assert app.state.ready.wait(30)
        failed = client.get("/readyz")
        assert failed.status_code == 503 and failed.json()["status"] == "failed" and "never mind" in failed.json()["reason"]


BLOCKED = '''
import importlib.abc, json, sys
BLOCK = {"torch", "transformers", "onnx", "sentence_transformers"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCK or name == "intents.build" or name.startswith("intents.build."):
            raise ImportError(f"{name} is not importable here")
sys.meta_path.insert(0, Blocker())
from fastapi.testclient import TestClient
from service.api.app import create_app
from service.config import Settings
app = create_app(Settings(model_dir=sys.argv[1], cache_dir=sys.argv[2], db_path=sys.argv[3], open=True))
with TestClient(app) as client:
    assert app.state.ready.wait(300)
    ready = client.get("/readyz").json()
    answer = client.post("/v1/suggest", json={"message": "亲 我165 110斤穿什么码"})
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCK or m.startswith("intents.build"))
print(json.dumps({"ready": ready["status"], "suggest": answer.status_code, "intent": answer.json()["intent"]["id"], "loaded": loaded}))
'''


@pytest.mark.slow
def test_the_server_runs_with_the_build_code_unimportable(settings, tmp_path):
    """Start-up and a suggest with intents.build, torch, transformers, onnx and sentence-transformers blocked."""
    run = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(settings.model_dir), str(settings.cache_dir), str(tmp_path / "b.db")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result == {"ready": "ready", "suggest": 200, "intent": "size", "loaded": []}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_wheel_install_in_a_fresh_venv_serves_from_another_directory(settings, tmp_path):
    """`pip install .` (not editable) into a new venv, without the build extra: `huashu serve` run from an
    unrelated directory finds its packaged data, serves the built models and answers a suggest; no torch."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", str(ROOT / "constraints.txt"), str(ROOT)],
        capture_output=True, text=True, timeout=1800,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    has_torch = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
    assert has_torch.returncode != 0  # the server's install carries no torch
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUASHU_")},
        "HUASHU_PORT": str(port), "HUASHU_MODEL_DIR": str(settings.model_dir), "HUASHU_CACHE_DIR": str(settings.cache_dir),
        "HUASHU_DB_PATH": str(elsewhere / "data" / "huashu.db"), "HUASHU_OPEN": "1", "PYTHONPATH": "",
    }
    server = subprocess.Popen([str(env_dir / "bin" / "huashu"), "serve"], cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, server.stdout.read()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "not ready in time"
            time.sleep(0.3)
        answer = httpx.post(f"{base}/v1/suggest", json={"message": "能开发票吗"}, timeout=30)
        assert answer.status_code == 200 and answer.json()["replies"]
        assert httpx.get(f"{base}/ui/agent", timeout=10).status_code == 200
        assert httpx.get(f"{base}/ui/contract.json", timeout=10).json()["intents"]["size"] == "尺码咨询"
        module = subprocess.run([str(python), "-c", "import service; print(service.__file__)"], capture_output=True, text=True, cwd=elsewhere)
        assert str(env_dir) in module.stdout  # the installed copy, not the checkout
    finally:
        server.terminate()
        server.wait(timeout=30)
