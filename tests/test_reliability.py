"""What an independent audit broke (issue 16), one test per failure: each failed on the code before the fix.

The store's read-only state is produced with SQLite's own `PRAGMA query_only`, which refuses every
write with the same error a read-only file gives ("attempt to write a readonly database"), without
needing root to make a file immutable."""

from __future__ import annotations

import csv
import gc
import io
import logging
import sqlite3
import threading
import time

import pytest

from service.errors import StoreUnavailable, TimedOut
from service.store import AuditEntry, Store
from service.store.db import DEADLINE, Database, StoreError
from tests.conftest import serving

KEYS = {"agent_keys": "agent-key-1", "qa_keys": "qa-key-1", "admin_keys": "admin-key-1", "open": False}
AGENT = {"X-API-Key": "agent-key-1"}
QA = {"X-API-Key": "qa-key-1"}


def _entry(request_id: str, message: str = "亲 这个有货吗", confidence: float = 0.5) -> AuditEntry:
    return AuditEntry(
        id=request_id, endpoint="suggest", normalized=message, masked=message, tokens=list(message),
        intents=[("product", confidence), ("logistics", 1 - confidence)], replies=["product.in-stock-01"],
        model_version="test", latency_ms=1.0,
    )


# --- probes and the schema ----------------------------------------------------------------------------


def test_probes_answer_head(fake_client):
    """Load balancers probe with HEAD: it got 405."""
    assert fake_client.head("/healthz").status_code == 200
    assert fake_client.head("/readyz").status_code == 200


def test_the_schema_declares_the_keys_and_the_limits(fake_client):
    schema = fake_client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer" and (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-API-Key")
    suggest = schema["paths"]["/v1/suggest"]["post"]
    assert {"401", "413", "429", "504"} <= set(suggest["responses"])
    assert {"bearer": []} in suggest["security"] and {"apiKey": []} in suggest["security"]


def test_a_flood_of_invalid_fields_gets_a_short_answer(fake_client):
    """A body with thousands of bad fields got every one of them back (a 2 MB error answer)."""
    response = fake_client.post("/v1/classify", json={"messages": [123] * 256})
    assert response.status_code == 422
    body = response.json()
    assert len(body["detail"]) == 20 and "256" in body["message"]


# --- start-up: keys and the database file ----------------------------------------------------------------


def test_a_directory_or_a_foreign_file_as_the_database_is_named(tmp_path):
    with pytest.raises(StoreError, match=f"{tmp_path}.*HUASHU_DB_PATH.*is a directory"):
        Database(tmp_path)
    foreign = tmp_path / "notes.db"
    foreign.write_bytes(b"these are my notes, not a database\n" * 200)
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="not a usable SQLite database.*left as it is"):
        Database(foreign)
    assert foreign.read_bytes() == before


# --- rate limits --------------------------------------------------------------------------------------


def test_made_up_keys_share_the_address_bucket(fake_settings, make_fake_app, tmp_path):
    """Each made-up key had a bucket of its own, so inventing keys lifted the limit."""
    settings = fake_settings.model_copy(update={"db_path": tmp_path / "h.db", "rate_limit": 1.0, "rate_burst": 5})
    with serving(make_fake_app(settings)) as client:
        codes = [client.post("/v1/segment", json={"text": "在吗"}, headers={"X-API-Key": f"made-up-{i}"}).status_code
                 for i in range(12)]
    assert codes[:5] == [200] * 5 and codes.count(200) <= 6 and codes[-1] == 429, codes  # 5 at once, then about 1 a second


def test_key_guessing_is_slowed_per_address(fake_settings, make_fake_app, tmp_path):
    """With keys configured, wrong keys could be tried thousands of times a second without a 429."""
    settings = fake_settings.model_copy(update={"db_path": tmp_path / "h.db", **KEYS})
    with serving(make_fake_app(settings)) as client:
        codes = [client.get("/v1/audit", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(30)]
        assert codes[:10] == [401] * 10 and set(codes[12:]) == {429}
        blocked = client.get("/v1/audit", headers=QA)
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1  # even the right key, meanwhile
    # a known key keeps its own bucket: another app, the right key used many times, is never slowed by failures
    with serving(make_fake_app(settings)) as client:
        assert all(client.get("/v1/audit", headers=QA).status_code == 200 for _ in range(30))


# --- the store refusing writes ------------------------------------------------------------------------------


@pytest.fixture
def read_only_app(fake_settings, make_fake_app, tmp_path):
    settings = fake_settings.model_copy(update={"db_path": tmp_path / "h.db", "audit_flush_ms": 50.0})
    app = make_fake_app(settings)
    with serving(app) as client:
        yield app, client


def _refuse_writes(app, refuse: bool) -> None:
    database = app.state.store.database
    with database.lock:
        database.db.execute(f"PRAGMA query_only = {'ON' if refuse else 'OFF'}")


def test_a_read_only_store_is_not_ready_and_refuses_what_it_cannot_keep(read_only_app, caplog):
    """A read-only file: /readyz said ready, suggests got 200 with no audit row written, feedback got 500,
    the writer logged a traceback every 100 ms."""
    app, client = read_only_app
    first = client.post("/v1/suggest", json={"message": "这件有货吗"}).json()
    while client.get("/readyz").json()["store"]["audit_pending"]:  # written before the store turns read-only
        time.sleep(0.02)
    with caplog.at_level(logging.WARNING, logger="huashu"):
        _refuse_writes(app, True)
        suggested = client.post("/v1/suggest", json={"message": "几天能到"})  # queued; the writer finds the store read-only
        assert suggested.status_code == 200, suggested.text
        time.sleep(0.6)
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["status"] == "unavailable" and "readonly" in ready.json()["store"]["reason"]
        refused = client.post("/v1/suggest", json={"message": "能便宜点吗"})
        assert refused.status_code == 503 and refused.json()["error"] == "store_unavailable"
        feedback = client.post("/v1/feedback", json={"request_id": first["request_id"], "reply_id": first["replies"][0]["id"], "action": "sent"})
        assert feedback.status_code == 503 and "nothing was written" in feedback.json()["message"]
        time.sleep(1.0)
        failures = [r for r in caplog.records if "cannot be written" in r.getMessage()]
        assert len(failures) == 1 and not any(r.exc_info for r in caplog.records)
        _refuse_writes(app, False)
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["store"] != {"status": "ok", "reason": None, "audit_pending": 0}:
            assert time.monotonic() < deadline, client.get("/readyz").text
            time.sleep(0.2)
    assert client.get("/readyz").status_code == 200
    # the row queued while the store refused was kept and written once it could be
    assert client.get(f"/v1/audit/{suggested.json()['request_id']}").status_code == 200
    assert client.post("/v1/feedback", json={"request_id": first["request_id"], "reply_id": first["replies"][0]["id"], "action": "sent"}).status_code == 201


def test_the_audit_queue_is_bounded(tmp_path):
    """The pending queue grew without bound while the store refused writes."""
    store = Store(tmp_path / "h.db", flush_interval=60.0)
    store.audit.max_pending = 3
    try:
        store.audit.record([_entry(f"r{i}") for i in range(3)])
        with pytest.raises(StoreUnavailable, match="3 audit rows are waiting"):
            store.audit.record([_entry("r3")])
        assert store.audit.pending == 3
    finally:
        store.close()
    assert Store(tmp_path / "h.db").qa.existing([f"r{i}" for i in range(4)]) == {"r0", "r1", "r2"}


def test_shutdown_with_a_read_only_store_says_what_it_lost(tmp_path, caplog):
    """At SIGTERM the close raised ("Application shutdown failed") and said nothing of the rows."""
    store = Store(tmp_path / "h.db", flush_interval=60.0)
    store.audit.record([_entry("r1"), _entry("r2")])
    with store.database.lock:
        store.database.db.execute("PRAGMA query_only = ON")
    with caplog.at_level(logging.ERROR, logger="huashu"):
        store.close()  # does not raise
    assert any("2 audit rows could not be written at shutdown" in r.getMessage() for r in caplog.records)


# --- the queue, paging and timeouts ------------------------------------------------------------------------


def test_the_queue_pager_skips_no_row_when_rows_are_reviewed_meanwhile(tmp_path):
    """With offsets, three reviews on page 1 made "next" skip three rows that moved up."""
    store = Store(tmp_path / "h.db")
    try:
        store.audit.record([_entry(f"req-{i:03d}", f"消息{i}", confidence=0.3 + i / 1000) for i in range(120)])
        total, page, cursor = store.qa.queue(50, 0, None)
        assert total == 120 and cursor
        seen = [item["id"] for item in page]
        for item in page[:3]:
            store.qa.add_review(item["id"], ["product"], None, "qa", None)
        while cursor:
            _, page, cursor = store.qa.queue(50, 0, cursor)
            seen += [item["id"] for item in page]
        assert sorted(seen) == [f"req-{i:03d}" for i in range(120)] and len(seen) == 120
    finally:
        store.close()


def test_a_query_past_the_deadline_is_stopped(tmp_path):
    """Abandoned queries kept a core busy for minutes after their 504."""
    database = Database(tmp_path / "h.db")
    token = DEADLINE.set(time.monotonic() + 0.2)
    started = time.monotonic()
    try:
        with pytest.raises(TimedOut), database.reading() as db:
            db.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n").fetchone()
    finally:
        DEADLINE.reset(token)
        database.close()
    assert time.monotonic() - started < 5


def _hold(lock, seconds: float) -> None:
    with lock:
        time.sleep(seconds)


def test_a_write_that_commits_is_answered_not_timed_out(fake_settings, make_fake_app, tmp_path):
    """Feedback got 504 at the deadline although its row was committed, and a retry counted it twice."""
    settings = fake_settings.model_copy(update={"db_path": tmp_path / "h.db", "request_timeout_s": 0.05})
    app = make_fake_app(settings)
    with serving(app) as client:
        suggestion = client.post("/v1/suggest", json={"message": "这件有货吗"}).json()
        database = app.state.store.database
        body = {"request_id": suggestion["request_id"], "reply_id": suggestion["replies"][0]["id"], "action": "sent"}
        # the store is busy past the request's deadline: the write waits for it, commits and is answered
        hold = threading.Thread(target=_hold, args=(database.lock, 0.3))
        hold.start()
        time.sleep(0.05)
        response = client.post("/v1/feedback", json=body, headers={"Idempotency-Key": "k-1"})
        hold.join()
        assert response.status_code == 201, response.text
        retry = client.post("/v1/feedback", json=body, headers={"Idempotency-Key": "k-1"})
        assert retry.status_code == 200 and retry.json()["id"] == response.json()["id"]
        assert client.post("/v1/feedback", json={**body, "action": "dismissed"}, headers={"Idempotency-Key": "k-1"}).status_code == 409
        with database.reading() as db:
            assert db.execute("SELECT count(*) FROM feedback WHERE request_id = ?", [body["request_id"]]).fetchone()[0] == 1


# --- exports opened in a spreadsheet ------------------------------------------------------------------------


def test_the_csv_export_does_not_run_formulas(fake_client):
    """A customer's message starting with = or @ was a live formula in the exported CSV."""
    message = "=HYPERLINK(\"http://x.example\",\"点我退款\") 到哪了"
    suggestion = fake_client.post("/v1/suggest", json={"message": message}).json()
    review = fake_client.post(f"/v1/audit/{suggestion['request_id']}/review", json={"intents": ["logistics"], "reviewer": "qa-lead"})
    assert review.status_code == 201, review.text
    exported = fake_client.get("/v1/export", params={"format": "csv"}).text
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(exported))}
    cell = rows[suggestion["request_id"]]["message"]
    assert cell.startswith("'=") and "点我退款" in cell



# --- connections --------------------------------------------------------------------------------------


async def _hello(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(params=["httptools", "h11"])
def guarded_server(request, monkeypatch):
    """uvicorn with huashu's connection guard (a header timeout of 0.3 s, keep-alive 0.3 s) on a free port."""
    import socket as socketlib

    import uvicorn

    from service.api import server

    monkeypatch.setattr(server, "_header_timeout", 0.3)
    protocol = server.GuardedHttpToolsProtocol if request.param == "httptools" else server.GuardedH11Protocol
    with socketlib.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(_hello, host="127.0.0.1", port=port, http=protocol, timeout_keep_alive=0.3, log_level="warning", lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield port
    instance.should_exit = True
    thread.join(10)


def _closed_within(sock, seconds: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closed `sock` (sending `trickle` a byte every 0.1 s meanwhile), or None."""
    started = time.monotonic()
    sock.settimeout(0.1)
    sent = 0
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if sent < len(trickle):
            try:
                sock.send(trickle[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            sent += 1
    return None


def test_idle_and_slow_connections_are_closed(guarded_server):
    """10 of 10 connections that sent nothing were open after 70 s; 10 of 10 sending headers slowly after 60 s."""
    import socket as socketlib

    with socketlib.create_connection(("127.0.0.1", guarded_server)) as idle:
        assert _closed_within(idle, 5) is not None
    with socketlib.create_connection(("127.0.0.1", guarded_server)) as slow:
        assert _closed_within(slow, 5, trickle=b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200) is not None
    # a client that sends its request in time is answered, then closed when idle for the keep-alive time
    with socketlib.create_connection(("127.0.0.1", guarded_server)) as polite:
        polite.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        polite.settimeout(2)
        assert polite.recv(1024).startswith(b"HTTP/1.1 200")
        assert _closed_within(polite, 5) is not None


def test_the_access_log_keeps_no_query_strings():
    """A QA lead's /v1/audit?q= search (a customer's words) was written to the access log."""
    from service.api.server import DropQueryStrings

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/v1/audit?q=%E5%BC%A0%E4%B8%89+13800138000", "1.1", 200), None)
    assert DropQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /v1/audit HTTP/1.1" 200'


def test_closing_the_store_waits_for_a_query_in_another_thread(tmp_path):
    """Found by CI: the app stopped (closing the store) while the model loader was reading feedback, and
    SQLite crashed the process (a segmentation fault)."""
    database = Database(tmp_path / "h.db")
    started, result = threading.Event(), {}

    def slow_read():
        with database.reading() as db:
            started.set()
            result["n"] = db.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) SELECT count(*) FROM n"
            ).fetchone()[0]

    reader = threading.Thread(target=slow_read)
    reader.start()
    started.wait(5)
    database.close()  # waits for the read to finish instead of pulling the connection from under it
    reader.join(10)
    assert result == {"n": 2000000}
    with pytest.raises(sqlite3.ProgrammingError), database.reading() as db:
        db.execute("select 1")


def test_the_loaded_models_are_left_out_of_the_collectors_full_walks(fake_settings, make_fake_app, tmp_path):
    """Everything alive once the models are loaded (jieba's dictionary, the vocabularies) was walked by each of
    the garbage collector's full collections: about 80 ms with the GIL held, and every request in flight
    waited (rare once serving, but then for all of them). The app freezes them once loaded, and lets them go at shutdown."""
    settings = fake_settings.model_copy(update={"db_path": tmp_path / "h.db"})
    gc.unfreeze()  # whatever an earlier test left
    with serving(make_fake_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


def test_the_store_gauge_follows_the_store_when_no_audit_row_is_written(read_only_app):
    """Found by an operator's audit: with the database down, /readyz said unavailable but
    huashu_store_writable stayed 1, as the gauge moved only when an audit row was queued or written, and
    requests were refused before that (an alert on the gauge never fired)."""
    app, client = read_only_app
    first = client.post("/v1/suggest", json={"message": "这件有货吗"}).json()
    while client.get("/readyz").json()["store"]["audit_pending"]:
        time.sleep(0.02)
    # What this app's store tells the metrics (the gauge itself is one per process, and other apps of this test
    # session, each with its store, set it too).
    audit, told = app.state.store.audit, []
    to_metrics = audit.observe
    audit.observe = lambda writable, pending: (told.append(writable), to_metrics(writable, pending))
    try:
        _refuse_writes(app, True)
        try:
            feedback = client.post("/v1/feedback", json={"request_id": first["request_id"], "reply_id": first["replies"][0]["id"], "action": "sent"})
            assert feedback.status_code == 503
            assert told and told[-1] is False, told
        finally:
            _refuse_writes(app, False)
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert told[-1] is True, told
    finally:
        audit.observe = to_metrics
