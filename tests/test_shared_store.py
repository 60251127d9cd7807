"""Replicas sharing one PostgreSQL store (HUASHU_DATABASE_URL): what a request on one replica stored is what
the next request on another finds. Quick tests run two app instances in this process against the session's
throwaway cluster (tests/pg_cluster.py); the slow one runs two real `huashu serve` processes with the built
models, one PostgreSQL and one Redis, as two machines would."""

from __future__ import annotations

import logging
import time

import httpx
import psycopg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from service.cli import app as cli
from service.config import get_settings
from service.store import AuditEntry, Store
from tests.conftest import serving
from tests.pg_cluster import PASSWORD
from tests.test_durability import _server, _tail
from tests.test_shared_limits import redis_url  # noqa: F401 - a fixture

def on_postgres(settings, url: str, **more):
    return settings.model_copy(update={"database_url": SecretStr(url), "db_path": settings.db_path.with_name("unused.db"), **more})


def test_replicas_find_each_others_rows_feedback_and_shop_changes(fake_settings, make_fake_app, pg_url):
    """Feedback sent to replica B right after replica A answered the suggest found no row (404) when the rows
    waited in A's memory or file; B's adoption priors and shop follow A's within their refresh intervals."""
    settings = on_postgres(fake_settings, pg_url, priors_refresh_s=0.2, shop_refresh_s=0.2)
    assert settings.audit_flush_s == 0.0  # each audit row committed before its answer
    with serving(make_fake_app(settings)) as a, serving(make_fake_app(settings)) as b:
        suggestion = a.post("/v1/suggest", json={"message": "快递到哪了 怎么还没到"}).json()
        reply, intent = suggestion["replies"][-1]["id"], suggestion["intent"]["id"]
        body = {"request_id": suggestion["request_id"], "reply_id": reply, "action": "sent"}
        first = b.post("/v1/feedback", json=body, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == 201, first.text
        retry = a.post("/v1/feedback", json=body, headers={"Idempotency-Key": "k-1"})  # the retry reaches the other
        assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
        assert b.get(f"/v1/audit/{suggestion['request_id']}").json()["agent"]["sent"] == [reply]
        for _ in range(9):  # nine more conversations in which an agent sent it
            more = a.post("/v1/suggest", json={"message": "快递到哪了 怎么还没到"}).json()
            assert a.post("/v1/feedback", json={**body, "request_id": more["request_id"]}).status_code == 201
        priors_a, priors_b = a.app.state.replies.priors, b.app.state.replies.priors
        assert priors_a.counts(reply, intent)[0] == 10  # A's own (and B's one, read with them) at once
        deadline = time.monotonic() + 5
        while priors_b.counts(reply, intent)[0] < 10:  # B's follower reads A's within HUASHU_PRIORS_REFRESH_S
            assert time.monotonic() < deadline, priors_b.counts(reply, intent)
            time.sleep(0.05)
        assert priors_a.counts(reply, intent) == priors_b.counts(reply, intent)

        profile = {"shipping": {"ship_within": "24小时"}}
        assert a.put("/v1/shop/profile", json=profile).status_code == 200
        deadline = time.monotonic() + 5
        while b.get("/v1/shop/profile").json()["profile"].get("shipping", {}).get("ship_within") != "24小时":
            assert time.monotonic() < deadline, b.get("/v1/shop/profile").text
            time.sleep(0.05)
        report = b.get("/v1/reports/intents").json()
        assert report["requests"] == 10 and report["adoption_per_intent"][intent]["sent"] == 10


def test_a_server_gone_is_503_with_nothing_written_and_the_service_recovers(fake_settings, make_fake_app, pg_cluster, pg_url, caplog):
    settings = on_postgres(fake_settings, pg_url)
    app = make_fake_app(settings)
    with serving(app) as client:
        suggestion = client.post("/v1/suggest", json={"message": "能便宜点吗"}).json()
        body = {"request_id": suggestion["request_id"], "reply_id": suggestion["replies"][0]["id"], "action": "sent"}
        with caplog.at_level(logging.WARNING, logger="huashu"):
            pg_cluster.stop()
            try:
                refused = [client.post("/v1/feedback", json=body), client.post("/v1/suggest", json={"message": "在吗"}),
                           client.get("/v1/audit")]
                ready = client.get("/readyz")
            finally:
                pg_cluster.start()
            assert [r.status_code for r in refused] == [503, 503, 503], [r.text for r in refused]
            assert {r.json()["error"] for r in refused} == {"store_unavailable"}
            assert ready.status_code == 503 and ready.json()["store"]["status"] == "unavailable"
            # Found by an operator's audit: a read was told "cannot be written … nothing was written", and every
            # client (agents, the open /readyz) was shown the database's address. The log has it, for operators.
            assert "cannot be read" in refused[2].json()["message"] and "written" not in refused[2].json()["message"]
            assert all(str(pg_cluster.port) not in text for text in [r.text for r in refused] + [ready.text])
            deadline = time.monotonic() + 20
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").text
                time.sleep(0.2)
        said = [r.getMessage() for r in caplog.records if "cannot be written" in r.getMessage()]
        assert len(said) == 1 and PASSWORD not in said[0]
        assert all(PASSWORD not in r.getMessage() for r in caplog.records)
        assert client.post("/v1/feedback", json=body).status_code == 201
        assert client.get(f"/v1/audit/{suggestion['request_id']}").json()["agent"]["sent"] == [body["reply_id"]]


def test_the_background_readers_say_once_that_the_store_is_gone_and_once_that_it_is_back(fake_settings, make_fake_app, pg_cluster, pg_url, caplog):
    """Found by an operator's audit: while the database was down the log repeated "reading other processes'
    feedback failed" with a traceback every 2 s and "shop refresh failed" every 5 s, for as long as it lasted."""
    settings = on_postgres(fake_settings, pg_url, priors_refresh_s=0.1, shop_refresh_s=0.1)
    with serving(make_fake_app(settings)):
        with caplog.at_level(logging.INFO, logger="huashu"):
            pg_cluster.stop()
            try:
                time.sleep(2.5)  # some twenty rounds of each
            finally:
                pg_cluster.start()
            deadline = time.monotonic() + 20
            while not any("works again" in r.getMessage() and "shop" in r.getMessage() for r in caplog.records) or not any(
                "works again" in r.getMessage() and "feedback" in r.getMessage() for r in caplog.records
            ):
                assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
                time.sleep(0.1)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("reading other processes' feedback failed" in m for m in messages) == 1, messages
    assert sum("shop refresh failed" in m for m in messages) == 1, messages


def test_serve_stops_on_a_database_url_that_does_not_work(pg_cluster, monkeypatch):
    """Like a bad SQLite path: `huashu serve` stops before anything starts, naming the variable, never the password."""
    url = pg_cluster.url("no_such_database")
    monkeypatch.setenv("HUASHU_DATABASE_URL", url)
    monkeypatch.setenv("HUASHU_OPEN", "1")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "HUASHU_DATABASE_URL" in result.output and "no_such_database" in result.output and "does not exist" in result.output
    assert PASSWORD not in result.output and "***" in result.output


# --- two real replicas ------------------------------------------------------------------------------------

AGENT_KEYS = [f"agent-{i:02d}" for i in range(16)]
RATE_KEY, QA_KEY = "agent-rate", "qa-key"
MESSAGE = "快递到哪了 怎么还没到"


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.slow
def test_two_replicas_share_the_store_the_priors_and_one_rate_limit(model_dir, encoder, pg_cluster, redis_url, tmp_path):  # noqa: F811
    """Two `huashu serve` processes on different ports, one PostgreSQL database and one Redis, as two machines:
    feedback on B for a suggest A answered succeeds at once; a reply agents keep sending on A rises on B within
    HUASHU_PRIORS_REFRESH_S; one key's rate limit holds across both; each one's /metrics shows its own traffic."""
    url = pg_cluster.database()
    redis, _ = redis_url
    env = dict(
        database_url=url, rate_limit_storage=redis, rate_limit="1", rate_burst="20", open="0",
        agent_keys=",".join([*AGENT_KEYS, RATE_KEY]), qa_keys=QA_KEY,
    )
    keys = iter(AGENT_KEYS * 100)

    def agent() -> dict:  # the work is spread over many keys, each far below its limit
        return {"X-API-Key": next(keys)}

    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    with _server(model_dir, encoder.path.parent, tmp_path / "unused-a.db", log_a, **env) as (_, a), \
            _server(model_dir, encoder.path.parent, tmp_path / "unused-b.db", log_b, **env) as (_, b):
        assert not (tmp_path / "unused-a.db").exists() and not (tmp_path / "unused-b.db").exists()
        counts = {a: 0, b: 0}

        def suggest(base: str) -> dict:
            answer = httpx.post(f"{base}/v1/suggest", json={"message": MESSAGE}, headers=agent(), timeout=30)
            assert answer.status_code == 200, answer.text
            counts[base] += 1
            return answer.json()

        # Feedback and QA reads on B for what A answered, at once.
        for _ in range(10):
            body = suggest(a)
            feedback = httpx.post(f"{b}/v1/feedback", headers=agent(), timeout=30, json={
                "request_id": body["request_id"], "reply_id": body["replies"][0]["id"], "action": "clicked"})
            assert feedback.status_code == 201, feedback.text
            audit = httpx.get(f"{b}/v1/audit/{body['request_id']}", headers={"X-API-Key": QA_KEY}, timeout=30)
            assert audit.status_code == 200 and audit.json()["agent"]["clicked"] == [body["replies"][0]["id"]]

        # A reply that is not first, sent again and again on A, rises on B. (The second: adoption moves a reply by at most
        # RankingWeights.adoption, 0.25, and the last one may be further than that below the others.)
        before = [r["id"] for r in suggest(b)["replies"]]
        target = before[1]
        sends = 0
        while sends < 40:
            body = suggest(a)
            ids = [r["id"] for r in body["replies"]]
            if target not in ids:
                break
            sent = httpx.post(f"{a}/v1/feedback", headers=agent(), timeout=30,
                              json={"request_id": body["request_id"], "reply_id": target, "action": "sent"})
            assert sent.status_code == 201, sent.text
            sends += 1
        on_a = [r["id"] for r in suggest(a)["replies"]]
        assert on_a.index(target) < before.index(target), (before, on_a)  # A's own, at once
        last_sent = time.monotonic()
        while True:
            on_b = [r["id"] for r in suggest(b)["replies"]]
            waited = time.monotonic() - last_sent
            if target in on_b and on_b.index(target) <= on_a.index(target):
                break
            assert waited < 2 + 3, f"after {sends} sends on A, B ranks {target} at {on_b} ({waited:.1f} s)"
            time.sleep(0.1)
        print(f"\n[replicas] after {sends} 'sent' on A, {target} rose from {before.index(target) + 1} to "
              f"{on_a.index(target) + 1} on A at once; B ranked it so {waited:.2f} s after the last send (HUASHU_PRIORS_REFRESH_S=2)")

        # One key's limit (a burst of 20) across both: in memory each would have let 20 through.
        codes = [httpx.post(f"{(a, b)[i % 2]}/v1/segment", json={"text": "在吗"}, headers={"X-API-Key": RATE_KEY}, timeout=30).status_code
                 for i in range(30)]
        assert codes[:20] == [200] * 20 and codes.count(200) <= 21 and codes[-1] == 429, codes

        # Each replica's /metrics shows its own traffic.
        for base in (a, b):
            text = httpx.get(f"{base}/metrics", timeout=30).text
            assert _metric(text, "huashu_responses_total", route="/v1/suggest", status="200") == counts[base], (base, counts)
            assert _metric(text, "huashu_store_writable") == 1.0
        assert all(PASSWORD not in log.read_text(errors="replace") for log in (log_a, log_b)), _tail(log_a)


# --- moving a SQLite store to PostgreSQL ------------------------------------------------------------------


def _copy(source, url: str):
    return CliRunner().invoke(cli, ["copy-store", "--from", str(source), "--to", url])


def test_a_sqlite_store_copied_to_postgresql_keeps_its_history_priors_and_shop(fake_settings, make_fake_app, pg_url, tmp_path):
    """A shop moving from one process to replicas: before `copy-store` the replicas on PostgreSQL started with
    no audit log, no feedback (so no adoption priors) and no shop; now they carry on where the file stopped,
    and new feedback, reviews and shop changes get ids after the copied ones."""
    on_sqlite = fake_settings.model_copy(update={"db_path": tmp_path / "huashu.db"})
    with serving(make_fake_app(on_sqlite)) as client:
        suggestion = client.post("/v1/suggest", json={"message": MESSAGE}).json()
        rid, reply, intent = suggestion["request_id"], suggestion["replies"][-1]["id"], suggestion["intent"]["id"]
        for _ in range(6):
            assert client.post("/v1/feedback", json={"request_id": rid, "reply_id": reply, "action": "sent"}).status_code == 201
        assert client.post(f"/v1/audit/{rid}/review", json={"intents": [intent], "reviewer": "qa"}).status_code == 201
        assert client.put("/v1/shop/profile", json={"shipping": {"ship_within": "24小时"}}).status_code == 200
        client.post("/v1/suggest", json={"message": "能便宜点吗"})
        before = {path: client.get(path).json() for path in
                  (f"/v1/audit/{rid}", f"/v1/audit/{rid}/reviews", "/v1/reports/intents", "/v1/shop/profile", "/v1/shop/changes")}
        audit_before = client.get("/v1/audit").json()
        priors_before = client.app.state.replies.priors.counts(reply, intent)

    result = _copy(on_sqlite.db_path, pg_url)
    assert result.exit_code == 0, result.output
    assert "copied 2 audit rows, 6 feedback rows, 1 reviews" in result.output
    assert PASSWORD not in result.output

    with serving(make_fake_app(on_postgres(fake_settings, pg_url))) as client:
        for path, body in before.items():
            assert client.get(path).json() == body, path
        assert client.get("/v1/audit").json()["items"] == audit_before["items"]
        # six rows of one (request, reply, action): one "sent" in the priors, as in the adoption report
        assert priors_before[0] == 1 and client.app.state.replies.priors.counts(reply, intent) == priors_before
        feedback = client.post("/v1/feedback", json={"request_id": rid, "reply_id": reply, "action": "edited", "final_text": "好的亲"})
        assert feedback.status_code == 201, feedback.text
        assert feedback.json()["id"] > 6  # after the copied ids, not a clash with them
        assert client.post(f"/v1/audit/{rid}/review", json={"intents": [intent], "reviewer": "qa2"}).status_code == 201
        assert client.put("/v1/shop/profile", json={"shipping": {"ship_within": "48小时"}}).status_code == 200
        assert client.get("/v1/shop/changes").json()["changes"][0]["id"] > before["/v1/shop/changes"]["changes"][0]["id"]

    again = _copy(on_sqlite.db_path, pg_url)  # a second copy would double the history: refused, nothing written
    assert again.exit_code == 2 and "already holds rows" in again.output and "requests 2" in again.output, again.output
    # the URL came from --to: the message names that, not a setting nobody set
    assert "(--to)" in again.output and "HUASHU_DATABASE_URL" not in again.output, again.output
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select count(*) from feedback").fetchone()[0] == 7


def test_a_copy_that_fails_part_way_leaves_postgresql_as_it_was(tmp_path, pg_url):
    source = tmp_path / "huashu.db"
    store = Store(source)
    try:
        store.audit.record([AuditEntry(id="r1", endpoint="suggest", normalized="在吗", masked="在吗", tokens=["在", "吗"],
                                       intents=[("greeting", 0.9)], replies=["greeting-01"], model_version="t", latency_ms=1.0)])
        # a value SQLite's loose typing kept that PostgreSQL's integer column refuses, in a table copied late
        store.database.db.execute("update requests_daily set bin = 'x'")
        store.database.db.conn.commit()
    finally:
        store.close()
    result = _copy(source, pg_url)
    assert result.exit_code == 2 and "rolled back" in result.output and "requests_daily" in result.output, result.output
    assert PASSWORD not in result.output
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select count(*) from requests").fetchone()[0] == 0  # copied before the failure, undone

    missing = _copy(tmp_path / "nothing-here.db", pg_url)
    assert missing.exit_code == 2 and "no SQLite store" in missing.output
    assert not (tmp_path / "nothing-here.db").exists()


def test_a_write_breaking_a_unique_key_is_a_409_with_nothing_written(fake_settings, make_fake_app, pg_url):
    """Rows put into PostgreSQL by hand (a restore, a copy by other means) without moving the id sequence made the
    next feedback break `feedback_pkey`: an unhandled 500. Now it is refused as a conflict, and the service goes on."""
    with serving(make_fake_app(on_postgres(fake_settings, pg_url))) as client:
        suggestion = client.post("/v1/suggest", json={"message": MESSAGE}).json()
        body = {"request_id": suggestion["request_id"], "reply_id": suggestion["replies"][0]["id"], "action": "sent"}
        with psycopg.connect(pg_url) as conn:  # the id the sequence will hand out next, taken by hand
            conn.execute("insert into feedback (id, request_id, reply_id, intent, action) values (1, %s, %s, 'logistics', 'clicked')",
                         [body["request_id"], body["reply_id"]])
        refused = client.post("/v1/feedback", json=body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "conflict" and "feedback_pkey" in refused.json()["message"]
        assert PASSWORD not in refused.text
        assert client.post("/v1/feedback", json=body).status_code == 201  # the sequence moved on: the next one is stored
        assert client.get("/readyz").status_code == 200
