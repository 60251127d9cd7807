"""Limits (body size, per-key rate, request time), retention purge and degraded mode."""

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

import intents.analyzer
from intents.encoder import EncoderError
from service.api import flows
from service.api.app import create_app
from service.api.limits import TokenBuckets
from service.cli import app as cli
from service.store import AuditFilters
from tests.conftest import serving


@pytest.fixture
def app_with(fake_settings, make_fake_app, tmp_path):
    """`app_with(**settings)`: an app over the fake analyzer with a database of its own."""
    return lambda **update: make_fake_app(fake_settings.model_copy(update={"db_path": tmp_path / "limits.db", **update}))


def test_token_bucket_allows_bursts_then_the_rate():
    buckets = TokenBuckets(rate=2.0, burst=3)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)  # empty: one token every 0.5 s
    assert buckets.take("b", now=0.0) == 0.0  # every client has its own bucket
    assert buckets.take("a", now=0.6) == 0.0
    assert buckets.take("a", now=0.6) > 0


def test_a_body_over_the_cap_gets_413(app_with):
    with serving(app_with(max_body_bytes=1000)) as client:
        big = {"message": "好" * 600}  # 1,800 bytes of UTF-8
        response = client.post("/v1/suggest", json=big)
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large" and "1000 bytes" in response.json()["message"]
        # Without a Content-Length the body is counted as it streams in.
        chunks = (part for part in [json.dumps(big, ensure_ascii=False).encode()[:700], json.dumps(big, ensure_ascii=False).encode()[700:]])
        streamed = client.post("/v1/suggest", content=chunks, headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert client.post("/v1/suggest", json={"message": "在吗"}).status_code == 200


def test_rate_limit_per_key_with_retry_after(app_with):
    keys = {"agent_keys": "key-one,key-two", "rate_limit": 0.5, "rate_burst": 2}
    with serving(app_with(**keys)) as client:
        one = {"Authorization": "Bearer key-one"}
        answers = [client.post("/v1/segment", json={"text": "在吗"}, headers=one) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        refused = answers[-1]
        assert refused.json()["error"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert "key-one" not in refused.text
        # Another key has its own allowance; probes are never limited.
        assert client.post("/v1/segment", json={"text": "在吗"}, headers={"X-API-Key": "key-two"}).status_code == 200
        assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_a_request_over_its_time_gets_504_and_no_audit_row(app_with, tmp_path, monkeypatch):
    """The abandoned work finishes in its thread; it used to audit its decision all the same, so QA read (and the
    adoption report counted as shown) replies the agent never received. A 504 stores nothing."""
    original = flows._suggest

    def slow(*args):
        time.sleep(0.5)  # started in time, finished past the deadline
        return original(*args)

    monkeypatch.setattr(flows, "_suggest", slow)
    with serving(app_with(request_timeout_s=0.2)) as client:
        store, finished = client.app.state.store, threading.Event()
        record = store.audit.record

        def recorded(entries):
            try:
                return record(entries)
            finally:
                finished.set()

        store.audit.record = recorded
        response = client.post("/v1/suggest", json={"message": "亲 我165 110斤穿什么码"})
        assert response.status_code == 504
        assert response.json()["error"] == "timeout"
        assert client.get("/healthz").status_code == 200  # probes are not timed
        assert finished.wait(30)  # the abandoned work got as far as its audit row
        store.audit.flush()
        assert store.qa.audit(AuditFilters(), 10, 0)[0] == 0
    rows = sqlite3.connect(tmp_path / "limits.db").execute("select message from requests").fetchall()
    assert rows == []


def test_suggestions_take_turns_on_the_analysis_threads_and_all_are_answered(app_with, monkeypatch):
    """With forty threads working at once their Python only handed the interpreter lock round: a loaded worker
    spent a fifth more CPU a request. At most `analysis_threads` suggestions are worked on at once; the others
    wait their turn and are answered, each counted as in progress (not `alone`) while it waits."""
    running, most, seen, lock = [0], [0], [], threading.Lock()
    release = threading.Event()
    original = flows._suggest

    def slow(body, *args):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            seen.append(args[-1])  # alone
        try:
            release.wait(5)
            return original(body, *args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(flows, "_suggest", slow)
    with serving(app_with(analysis_threads=2)) as client:
        with ThreadPoolExecutor(6) as pool:
            answers = [pool.submit(client.post, "/v1/suggest", json={"message": f"在吗 第{i}个问题"}) for i in range(6)]
            deadline = time.monotonic() + 5
            while len(seen) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)  # the other four had time to start, had they not waited their turn
            assert running[0] == 2
            release.set()
            assert [a.result().status_code for a in answers] == [200] * 6
    assert most[0] == 2
    assert seen.count(True) <= 1  # six in progress at once: at most the first came alone


def test_a_suggestion_whose_deadline_passed_while_it_waited_is_not_worked_on(app_with, monkeypatch):
    """Its client has had the 504: working on it would only hold up the requests behind it."""
    started, release = [], threading.Event()
    original = flows._suggest

    def blocking(body, *args):
        started.append(body.message)
        release.wait(5)
        return original(body, *args)

    monkeypatch.setattr(flows, "_suggest", blocking)
    with serving(app_with(analysis_threads=1, request_timeout_s=0.3)) as client:
        with ThreadPoolExecutor(3) as pool:
            answers = [pool.submit(client.post, "/v1/suggest", json={"message": f"在吗 {i}"}) for i in range(3)]
            assert [a.result().status_code for a in answers] == [504] * 3
            release.set()
            time.sleep(0.5)  # the first finishes; the two behind it would start now
    assert len(started) == 1, started


def test_purge_deletes_old_rows_with_their_feedback_and_reviews(app_with, tmp_path, monkeypatch):
    with serving(app_with()) as client:
        body = client.post("/v1/suggest", json={"message": "能便宜点吗"}).json()
        client.post("/v1/feedback", json={"request_id": body["request_id"], "reply_id": body["replies"][0]["id"], "action": "sent"})
        client.post(f"/v1/audit/{body['request_id']}/review", json={"intents": ["bargain"], "reviewer": "qa"})
        client.post("/v1/suggest", json={"message": "在吗"})
    db = tmp_path / "limits.db"
    monkeypatch.setenv("HUASHU_DB_PATH", str(db))
    from service.config import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        yesterday = (date.today() - timedelta(days=1)).isoformat()
        tomorrow = (date.today() + timedelta(days=2)).isoformat()
        kept = runner.invoke(cli, ["purge", "--before", yesterday])
        assert kept.exit_code == 0, kept.output
        assert "deleted 0 audit rows" in kept.output
        dry = runner.invoke(cli, ["purge", "--before", tomorrow, "--dry-run"])
        assert "would delete 2 audit rows, 1 feedback rows and 1 reviews" in dry.output
        assert sqlite3.connect(db).execute("select count(*) from requests").fetchone() == (2,)
        gone = runner.invoke(cli, ["purge", "--before", tomorrow])
        assert "deleted 2 audit rows, 1 feedback rows and 1 reviews" in gone.output
        with sqlite3.connect(db) as conn:
            assert [conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("requests", "feedback", "reviews")] == [0, 0, 0]
        bad = runner.invoke(cli, ["purge", "--before", "last week"])
        assert bad.exit_code == 2
    finally:
        get_settings.cache_clear()


@pytest.mark.slow
def test_without_the_encoder_the_service_runs_degraded(settings, tmp_path, monkeypatch):
    def broken(model_dir, threads=0, solo=False):
        raise EncoderError("the engine library is missing")

    monkeypatch.setattr(intents.analyzer, "load_default_encoder", broken)
    with serving(create_app(settings.model_copy(update={"db_path": tmp_path / "limits.db"}))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert "the engine library is missing" in ready.json()["reason"]
        answer = client.post("/v1/suggest", json={"message": "能便宜点吗 再便宜点就买"})
        assert answer.status_code == 200
        body = answer.json()
        assert body["intent"]["id"] == "bargain"
        assert body["replies"] and all(r["intent"] in {i["id"] for i in body["intents"]} for r in body["replies"])
        assert client.post("/v1/classify", json={"messages": ["快递到哪了", "在吗"]}).status_code == 200
