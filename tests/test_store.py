"""The store's behaviour, the same on both backends: every test here runs against a SQLite file and against a
real PostgreSQL database (a throwaway cluster the session starts, tests/pg_cluster.py; skipped where
PostgreSQL is not installed). Then what only PostgreSQL has: its migrations, a feedback row committed late,
a server that goes away and comes back, a start-up URL that does not work."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from service.config import ConfigError, Settings
from service.errors import Conflict, NotFound, StoreUnavailable, TimedOut
from service.store import AuditEntry, AuditFilters, Store
from service.store.db import DEADLINE, StoreError, check_database
from service.store.records import FeedbackCursor
from service.store.reports import intent_report
from tests.pg_cluster import PASSWORD

SLOW_SQL = "with recursive n(i) as (select 1 union all select i + 1 from n where i < 500000000) select count(*) from n"


def entry(request_id: str, message: str = "亲 这个有货吗", intents=(("product", 0.6), ("logistics", 0.3)),
          replies=("product.in-stock-01", "product.in-stock-02"), endpoint: str = "suggest", **extra) -> AuditEntry:
    return AuditEntry(
        id=request_id, endpoint=endpoint, normalized=message, masked=message, tokens=list(message), intents=list(intents),
        replies=list(replies), model_version="test", latency_ms=1.5, reply_texts=[f"回复{r}" for r in replies], **extra,
    )


@pytest.fixture
def store(store_location):
    store = Store(store_location)
    yield store
    store.close()


def test_audit_rows_are_written_and_read_back_as_they_were(store):
    store.audit.record([
        entry("r1", "亲 这个有货吗", psychology="practical", psychology_confidence=0.7, emotion="calm", emotion_score=0.1,
              knowledge_point="product.in-stock", knowledge_confidence=0.66, history=[("customer", "在吗")]),
        entry("r2", "快递到哪了 XL码", intents=(("logistics", 0.9), ("product", 0.05)), replies=("logistics-where-01",)),
        entry("r3", "快递到哪了 XL码", intents=(("logistics", 0.4), ("product", 0.35)), endpoint="classify", replies=()),
    ])
    row = store.records.get_request("r1")
    assert row["intents"] == [["product", 0.6], ["logistics", 0.3]] and row["replies"] == ["product.in-stock-01", "product.in-stock-02"]
    assert (row["confidence"], row["margin"], row["priority"], row["reviewed"]) == (0.6, 0.3, 1.1, 0)
    assert store.records.get_request("nope") is None
    total, items, cursor = store.qa.audit(AuditFilters(), 10)
    assert total == 3 and cursor is None and {i["id"] for i in items} == {"r1", "r2", "r3"}
    item = store.qa.audit_item("r1")
    assert item["history"] == [{"role": "customer", "text": "在吗"}] and item["reply_texts"] == ["回复product.in-stock-01", "回复product.in-stock-02"]
    assert (item["psychology"], item["knowledge_point"], item["handoff"], item["escalate"]) == ("practical", "product.in-stock", False, False)
    assert item["agent"] == {"clicked": [], "sent": [], "edited": [], "dismissed": [], "final_texts": []} and item["review"] is None
    # filters: intent, search (case-folded like SQLite's LIKE), endpoint, confidence, the same message
    assert [i["id"] for i in store.qa.audit(AuditFilters(intent="logistics"), 10)[1]] == ["r3", "r2"]
    assert {i["id"] for i in store.qa.audit(AuditFilters(q="xl码"), 10)[1]} == {"r2", "r3"}
    assert {i["id"] for i in store.qa.audit(AuditFilters(q="100%_"), 10)[1]} == set()
    assert [i["id"] for i in store.qa.audit(AuditFilters(endpoint="classify"), 10)[1]] == ["r3"]
    assert [i["id"] for i in store.qa.audit(AuditFilters(confidence_below=0.5), 10)[1]] == ["r3"]
    assert {i["id"] for i in store.qa.audit(AuditFilters(same_as="r2"), 10)[1]} == {"r2", "r3"}
    today = datetime.now(timezone.utc).date()
    assert store.qa.audit(AuditFilters(since=today.isoformat(), until=(today + timedelta(days=1)).isoformat()), 10)[0] == 3
    assert store.qa.audit(AuditFilters(until=today.isoformat()), 10)[0] == 0
    assert store.qa.existing(["r1", "r9"]) == {"r1"}


def test_the_audit_log_pages_by_cursor(store):
    store.audit.record([entry(f"p{i:03d}", f"消息{i}") for i in range(25)])
    seen, cursor = [], None
    while True:
        total, items, cursor = store.qa.audit(AuditFilters(), 10, after=cursor)
        seen += [i["id"] for i in items]
        if not cursor:
            break
    assert total == 25 and len(seen) == 25 and set(seen) == {f"p{i:03d}" for i in range(25)}


def test_feedback_is_idempotent_counts_once_and_moves_the_row_up_the_queue(store):
    store.audit.record([entry("f1"), entry("f2", intents=(("product", 0.95), ("other", 0.01)))])
    first, new = store.records.record_feedback("f1", "product.in-stock-01", "product", "sent", "亲 电话13812345678", idempotency_key="k1")
    assert new
    assert store.records.record_feedback("f1", "product.in-stock-01", "product", "sent", None, idempotency_key="k1") == (first, False)
    with pytest.raises(Conflict, match="k1"):
        store.records.record_feedback("f1", "product.in-stock-02", "product", "dismissed", None, idempotency_key="k1")
    second, _ = store.records.record_feedback("f1", "product.in-stock-01", "product", "sent", None)  # the same action again
    assert second > first
    store.records.record_feedback("f1", "product.in-stock-02", "product", "clicked", None)
    before = store.qa.audit_item("f2")["priority"]
    store.records.record_feedback("f2", "product.in-stock-02", "logistics", "dismissed", None)  # another intent's, dismissed
    assert store.qa.audit_item("f2")["priority"] == round(before + 0.5, 4)
    item = store.qa.audit_item("f1")
    assert item["agent"]["sent"] == ["product.in-stock-01"] and item["agent"]["clicked"] == ["product.in-stock-02"]
    assert item["agent"]["final_texts"][0]["text"] != "亲 电话13812345678" and "13812345678" not in item["agent"]["final_texts"][0]["text"]
    adoption = store.qa.adoption(None, None)
    # two "sent" on one request and reply are one
    assert adoption["reply_actions"] == {("product.in-stock-01", "sent"): 1, ("product.in-stock-02", "clicked"): 1,
                                         ("product.in-stock-02", "dismissed"): 1}
    assert adoption["shown"] == {"product.in-stock-01": 2, "product.in-stock-02": 2}
    assert adoption["intent_actions"][("product", "sent")] == 1 and adoption["requests"] == 2
    events, cursor = store.records.feedback_events()
    # and for the priors too (found by an operator's audit: 40 "sent" on one request moved the ranking 40 times)
    assert events == [("product.in-stock-01", "product", "sent"),
                      ("product.in-stock-02", "product", "clicked"), ("product.in-stock-02", "logistics", "dismissed")]
    assert store.records.feedback_since(cursor)[0] == []
    store.records.record_feedback("f1", "product.in-stock-02", "product", "clicked", None)  # again, after the read
    events, cursor = store.records.feedback_since(cursor)
    assert events == [] and store.records.feedback_since(cursor)[0] == []
    store.records.record_feedback("f2", "product.in-stock-01", "product", "edited", "好的")
    assert store.records.feedback_since(cursor)[0] == [("product.in-stock-01", "product", "edited")]


def test_feedback_and_reviews_on_a_row_deleted_meanwhile_are_not_found(store):
    """The routes look the row up, then write: a purge (or another replica's) in between made the write break
    the foreign key, an unhandled error (500). Now the write finds the row gone under its own lock."""
    store.audit.record([entry("gone")])
    tomorrow = (datetime.now(timezone.utc).date() + timedelta(days=1)).isoformat()
    assert store.qa.purge(tomorrow)["requests"] == 1
    with pytest.raises(NotFound, match="gone"):
        store.records.record_feedback("gone", "product.in-stock-01", "product", "sent", None)
    with pytest.raises(NotFound, match="gone"):
        store.qa.add_reviews(["gone"], ["product"], None, "qa", None)
    assert store.qa.adoption(None, None)["reply_actions"] == {}


def test_a_nul_character_in_an_id_or_a_text_is_no_error(store):
    """Found by an operator's audit: PostgreSQL's text cannot hold a NUL character, so an id or a text with one
    (GET /v1/audit/ab%00c, an edited reply, a reviewer's name) was a database error, a 500; on SQLite, not
    found or stored. Both backends now find no such id, and keep the text (NUL as U+FFFD on PostgreSQL)."""
    store.audit.record([entry("n1"), entry("n\x00ul", "在吗\x00")])
    assert store.records.get_request("n1\x00") is None and store.qa.audit_item("ab\x00c") is None
    with pytest.raises(NotFound):
        store.records.record_feedback("n1\x00", "product.in-stock-01", "product", "sent", None)
    store.records.record_feedback("n1", "product.in-stock-01", "product", "edited", "好的\x00亲")
    store.qa.add_reviews(["n1"], ["product"], None, "qa\x00lead", "看过\x00")
    item = store.qa.audit_item("n1")
    assert item["agent"]["final_texts"][0]["text"] in ("好的\x00亲", "好的\ufffd亲")
    assert store.records.get_request("n\x00ul") is not None or store.records.get_request("n\ufffdul") is not None


def test_a_write_breaking_a_unique_key_is_a_conflict_with_nothing_written(store):
    store.audit.record([entry("dup")])
    with pytest.raises(Conflict, match="nothing was written"):
        with store.database.writing() as db:
            db.execute("update requests set intent = 'other' where id = ?", ["dup"])
            db.insert("requests", {"id": "dup", "message": "again"})
    assert store.records.get_request("dup")["intent"] == "product"  # the whole transaction was rolled back


def test_the_review_queue_pages_without_skipping_rows_reviewed_meanwhile(store):
    store.audit.record([entry(f"q{i:03d}", f"消息{i}", intents=(("product", 0.3 + i / 1000), ("other", 0.1))) for i in range(60)])
    total, page, cursor = store.qa.queue(25)
    assert total == 60 and cursor and page[0]["id"] == "q000"  # least confident first
    seen = [item["id"] for item in page]
    for item in page[:3]:
        store.qa.add_review(item["id"], ["product"], None, "qa", None)
    while cursor:
        _, page, cursor = store.qa.queue(25, after=cursor)
        seen += [item["id"] for item in page]
    assert sorted(seen) == [f"q{i:03d}" for i in range(60)]
    assert store.qa.queue(25)[0] == 57


def test_reviews_reports_and_exports(store):
    store.audit.record([
        entry("a1", "太贵了", intents=(("bargain", 0.8), ("other", 0.1))),
        entry("a2", "太贵了", intents=(("bargain", 0.55), ("product", 0.4))),
        entry("a3", "到哪了", intents=(("logistics", 0.92), ("other", 0.01))),
        entry("a4", "在吗", intents=(("greeting", 0.97), ("other", 0.01)), endpoint="classify", replies=()),
    ])
    reviews = store.qa.add_reviews(["a1", "a2"], ["bargain"], None, "组长 张三 13812345678", "同一句")
    assert [r["request_id"] for r in reviews] == ["a1", "a2"] and "13812345678" not in reviews[0]["reviewer"]
    store.qa.add_review("a3", ["refund", "logistics"], "remedy", "qa", None)
    store.qa.add_review("a3", ["product"], None, "qa2", "改判")  # a later review supersedes; both are kept
    assert [r["intents"] for r in store.qa.reviews_of("a3")] == [["refund", "logistics"], ["product"]]
    assert store.qa.audit_item("a3")["review"]["intents"] == ["product"]
    assert store.qa.audit(AuditFilters(reviewed=True), 10)[0] == 3 and store.qa.audit(AuditFilters(reviewed=False), 10)[0] == 1
    store.records.record_feedback("a1", "product.in-stock-01", "bargain", "sent", None)

    report = intent_report(store.qa)
    assert (report["requests"], report["reviewed"], report["accuracy"]) == (4, 3, round(2 / 3, 4))
    assert report["per_intent"]["bargain"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert report["per_intent"]["logistics"]["precision"] == 0.0 and report["per_intent"]["size"]["precision"] is None
    assert [b["count"] for b in report["confidence_histogram"]] == [0, 0, 0, 0, 0, 1, 0, 0, 1, 2]
    assert report["adoption_per_intent"]["bargain"]["sent"] == 1 and report["adoption_per_intent"]["bargain"]["shown"] == 2
    day = datetime.now(timezone.utc).date()
    assert intent_report(store.qa, since=(day + timedelta(days=1)).isoformat())["requests"] == 0

    exported = [row for batch in store.qa.reviewed(None, None, batch=2) for row in batch]
    assert [row["id"] for row in exported] == ["a1", "a2", "a3"]
    assert exported[2]["review"]["intents"] == ["product"] and exported[0]["review"]["comment"] == "同一句"
    assert store.qa.review_outcomes(None, None)[2] == ("logistics", 0.92, ["product"])

    tomorrow = (day + timedelta(days=1)).isoformat()
    assert store.qa.purge(tomorrow, dry_run=True) == {"feedback": 1, "reviews": 4, "requests": 4}
    assert store.qa.audit(AuditFilters(), 10)[0] == 4
    assert store.qa.purge(tomorrow) == {"feedback": 1, "reviews": 4, "requests": 4}
    assert store.qa.audit(AuditFilters(), 10)[0] == 0 and intent_report(store.qa)["requests"] == 0


def test_shop_records_and_their_version(store):
    shop = store.shop
    assert shop.load() == (None, [], {}) and shop.version() == 0
    shop.save("cli", profile={"shipping": {"ship_within": "48小时"}}, products=[{"id": "SW-1", "title": "毛衣"}],
              charts={"tops": "size,height\nM,160-170\n"})
    v1 = shop.version()
    assert v1 > 0
    assert shop.load() == ({"shipping": {"ship_within": "48小时"}}, [{"id": "SW-1", "title": "毛衣"}], {"tops": "size,height\nM,160-170\n"})
    shop.save("admin:ab12", products=[{"id": "SW-1", "title": "羊毛衫"}, {"id": "SW-2", "title": "T恤"}], charts={}, replace=True)
    assert [p["title"] for p in shop.load()[1]] == ["羊毛衫", "T恤"] and shop.load()[2] == {}
    assert shop.delete_product("cli", "SW-2") and not shop.delete_product("cli", "SW-2")
    assert not shop.delete_chart("cli", "tops")
    reply = {"id": "shop-r1", "intents": ["product"], "text": "亲，有的哦"}
    shop.add_reply("admin:ab12", reply)
    with pytest.raises(KeyError):
        shop.add_reply("admin:ab12", reply)
    shop.update_reply("admin:ab12", {**reply, "text": "亲，现货哦"})
    assert shop.reply_records() == [{**reply, "text": "亲，现货哦"}]
    shop.retire_reply("admin:ab12", "shop-r1")
    assert shop.reply_records() == [] and shop.replies(include_retired=True)[0]["_retired"]
    changes = shop.changes()
    assert [(c["kind"], c["target"], c["action"]) for c in changes[:3]] == [
        ("reply", "shop-r1", "retire"), ("reply", "shop-r1", "update"), ("reply", "shop-r1", "add")]
    assert changes[1]["detail"]["before"]["text"] == "亲，有的哦" and changes[0]["actor"] == "admin:ab12"
    assert [c["action"] for c in shop.changes(kind="product", target="SW-2")] == ["delete", "add"]
    assert shop.version() == changes[0]["id"] > v1


def test_a_read_past_the_deadline_is_stopped(store):
    token = DEADLINE.set(time.monotonic() + 0.3)
    started = time.monotonic()
    try:
        with pytest.raises(TimedOut), store.database.reading() as db:
            db.execute(SLOW_SQL).fetchone()
    finally:
        DEADLINE.reset(token)
    assert time.monotonic() - started < 5
    with store.database.reading() as db:  # the connection serves the next read
        assert db.execute("select count(*) from requests").fetchone()[0] == 0


def test_a_deadline_does_not_cut_a_write(store):
    store.audit.record([entry("w1")])
    token = DEADLINE.set(time.monotonic() - 1)  # already past: a write still commits
    try:
        store.records.record_feedback("w1", "product.in-stock-01", "product", "sent", None)
    finally:
        DEADLINE.reset(token)
    assert store.records.feedback_events()[0] == [("product.in-stock-01", "product", "sent")]


def test_the_audit_row_of_a_request_past_its_deadline_is_not_written(store):
    """A suggestion past its deadline is answered 504 (the timeout middleware): its audit row must not be written
    after all, or QA reads replies the agent never received (found by an operator's audit: PostgreSQL frozen,
    the rows queued behind its transaction committed once it answered)."""
    token = DEADLINE.set(time.monotonic() - 0.01)
    try:
        with pytest.raises(TimedOut, match="nothing was written"):
            store.audit.record([entry("late1")])
    finally:
        DEADLINE.reset(token)
    store.audit.flush()
    assert store.records.get_request("late1") is None


def test_rows_written_in_the_request_are_committed_together_and_each_caller_learns_its_own_outcome(store, monkeypatch):
    """Without a background writer (PostgreSQL's default) each request commits its audit row before it is answered;
    requests arriving together share one transaction. A call returns only once its row is committed, and when
    the shared transaction fails every caller in it is refused, none of its rows written."""
    from contextlib import contextmanager

    original, calls, lock = store.database.writing, [], threading.Lock()

    @contextmanager
    def writing():
        with lock:
            calls.append(threading.current_thread().name)
            n = len(calls)
        if n == 1:
            time.sleep(0.3)  # the first transaction is slow: the others queue behind it
        with original() as db:
            yield db
            if n == 2:
                raise StoreUnavailable("the store cannot be written (injected); nothing was written")

    monkeypatch.setattr(store.database, "writing", writing)
    start, outcome = threading.Barrier(16), {}

    def call(i):
        start.wait()
        if i:
            time.sleep(0.05)  # the first takes the lead; the rest arrive while it commits
        try:
            store.audit.record([entry(f"g{i:02d}")])
            outcome[i] = store.records.get_request(f"g{i:02d}") is not None  # committed when the call returned
        except StoreUnavailable:
            outcome[i] = "refused"

    threads = [threading.Thread(target=call, args=(i,), name=f"request-{i}") for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    monkeypatch.setattr(store.database, "writing", original)
    assert outcome[0] is True and list(outcome.values()).count("refused") == 15  # the second transaction: the other 15
    assert len(calls) == 2
    assert [i for i in range(16) if store.records.get_request(f"g{i:02d}") is not None] == [0]
    store.audit.record([entry("g99")])  # the next request is not held up by what failed
    assert store.records.get_request("g99") is not None


def test_rows_waiting_for_a_transaction_past_their_request_deadline_are_left_out(store, monkeypatch):
    """Rows committed in the request wait while an earlier transaction commits; a request whose deadline passes
    meanwhile has been answered 504, so the next transaction leaves its rows out and the request learns it
    (TimedOut); the others waiting are written."""
    from contextlib import contextmanager

    assert store.audit._writer is None  # rows committed in the request (PostgreSQL's default, and with workers)
    original, release, entered = store.database.writing, threading.Event(), threading.Event()

    @contextmanager
    def writing():
        if not entered.is_set():
            entered.set()
            release.wait(10)  # the first transaction hangs, as on a frozen server
        with original() as db:
            yield db

    monkeypatch.setattr(store.database, "writing", writing)
    outcome = {}

    def call(name, seconds):
        token = DEADLINE.set(time.monotonic() + seconds)
        try:
            store.audit.record([entry(name)])
            outcome[name] = "written"
        except TimedOut:
            outcome[name] = "timed out"
        finally:
            DEADLINE.reset(token)

    first = threading.Thread(target=call, args=("d0", 30))
    first.start()
    assert entered.wait(5)
    waiting = [threading.Thread(target=call, args=(name, seconds)) for name, seconds in (("d1", 0.2), ("d2", 30))]
    for t in waiting:
        t.start()
    time.sleep(0.6)  # d1's deadline passes while it waits
    release.set()
    for t in [first, *waiting]:
        t.join(15)
    assert outcome == {"d0": "written", "d1": "timed out", "d2": "written"}
    assert [n for n in ("d0", "d1", "d2") if store.records.get_request(n) is not None] == ["d0", "d2"]


def _refuse_writes(store: Store, refuse: bool, pg_cluster=None) -> None:
    """The store's database refuses writes, as a read-only file or server does."""
    database = store.database
    if database.path is not None:
        with database.lock:
            database.db.execute(f"PRAGMA query_only = {'ON' if refuse else 'OFF'}")
        return
    name = database.url.rsplit("/", 1)[1]
    with pg_cluster.admin() as admin:
        admin.execute(f"alter database {name} set default_transaction_read_only = {'on' if refuse else 'off'}")
    pg_cluster.terminate(name)  # the pool's connections reconnect with the new default


def test_a_store_refusing_writes_answers_unavailable_then_recovers_by_itself(store, request, caplog):
    pg_cluster = request.getfixturevalue("pg_cluster") if store.database.path is None else None
    store.audit.record([entry("u1")])
    request.addfinalizer(lambda: _refuse_writes(store, False, pg_cluster))  # whatever happens (PostgreSQL: a shared database)
    with caplog.at_level(logging.WARNING, logger="huashu"):
        _refuse_writes(store, True, pg_cluster)
        for _ in range(3):
            with pytest.raises(StoreUnavailable, match="nothing was written"):
                store.records.record_feedback("u1", "product.in-stock-01", "product", "sent", None)
        assert store.database.probe(every=0) is not None  # still refusing
        assert store.records.get_request("u1") is not None  # reads still answer
        assert sum("cannot be written" in r.getMessage() for r in caplog.records) == 1  # said once
        _refuse_writes(store, False, pg_cluster)
        assert store.database.probe(every=0) is None
    assert any("takes writes again" in r.getMessage() for r in caplog.records)
    store.records.record_feedback("u1", "product.in-stock-01", "product", "sent", None)
    events, _ = store.records.feedback_events()
    assert events == [("product.in-stock-01", "product", "sent")]  # the refused ones left nothing


# --- PostgreSQL only --------------------------------------------------------------------------------------


def test_migrations_create_the_schema_once_when_replicas_start_together(pg_cluster):
    url = pg_cluster.database(empty=True)
    results: list[str] = []

    def open_store():
        try:
            Store(url).close()
            results.append("ok")
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results.append(repr(exc))

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == ["ok"] * 4
    with psycopg.connect(url) as conn:
        assert conn.execute("select version, name from huashu_migrations").fetchall() == [(1, "schema")]
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
    assert tables == {"huashu_migrations", "requests", "feedback", "reviews", "shop_replies", "shop_profile", "products",
                      "size_charts", "shop_changes", "requests_daily", "reply_shown", "feedback_daily"}


def test_both_backends_have_the_same_columns(pg_url, tmp_path):
    sqlite_store = Store(tmp_path / "h.db")
    try:
        tables = [r[0] for r in sqlite_store.database.db.execute(
            "select name from sqlite_master where type = 'table' and name not like '\\_%' escape '\\'")]
        sqlite_columns = {t: [c.name for c in sqlite_store.database.db[t].columns] for t in tables}
    finally:
        sqlite_store.close()
    with psycopg.connect(pg_url) as conn:
        pg_columns: dict[str, list[str]] = {}
        for table, column in conn.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'public'"
            " and table_name <> 'huashu_migrations' order by table_name, ordinal_position"
        ):
            pg_columns.setdefault(table, []).append(column)
    assert pg_columns == sqlite_columns


def test_feedback_committed_late_with_a_lower_id_is_not_skipped(pg_url):
    """Two replicas: A takes feedback id n and commits after B has committed n + 1, and a follower read in
    between. Reading on from the highest id seen would skip A's row for ever."""
    store = Store(pg_url)
    try:
        store.audit.record([entry("l1")])
        store.records.record_feedback("l1", "product.in-stock-01", "product", "clicked", None)
        _, cursor = store.records.feedback_events()
        with psycopg.connect(pg_url) as late:  # replica A, its transaction still open
            late.execute("insert into feedback (created, request_id, reply_id, intent, action) values (%s, 'l1', 'late', 'product', 'sent')",
                         [datetime.now(timezone.utc).isoformat()])
            store.records.record_feedback("l1", "product.in-stock-02", "product", "sent", None)  # replica B
            events, cursor = store.records.feedback_since(cursor)
            assert events == [("product.in-stock-02", "product", "sent")]
        # A commits (leaving the block)
        events, cursor = store.records.feedback_since(cursor)
        assert events == [("late", "product", "sent")]
        assert store.records.feedback_since(cursor)[0] == []  # and nothing twice
        assert cursor.horizon < max(cursor.seen)  # the last minute's ids are still watched
    finally:
        store.close()


def test_the_cursor_settles_after_a_minute_and_a_restart_reads_only_the_last_minute(pg_url):
    store = Store(pg_url)
    try:
        store.audit.record([entry("s1")])
        for action in ("clicked", "sent"):
            store.records.record_feedback("s1", "product.in-stock-01", "product", action, None)
        events, cursor = store.records.feedback_events()
        assert len(events) == 2 and cursor.horizon == 0 and len(cursor.seen) == 2
        unseen = FeedbackCursor(0, frozenset(), ((time.monotonic(), 1000),))  # too many ids to ask for one by one
        assert len(store.records.feedback_since(unseen)[0]) == 2
        aged = FeedbackCursor(cursor.horizon, cursor.seen, tuple((t - 61, top) for t, top in cursor.marks))
        events, settled = store.records.feedback_since(aged)
        assert events == [] and settled.seen == frozenset() and settled.horizon == max(cursor.seen)
        with psycopg.connect(pg_url) as conn:  # rows stamped over a minute ago are settled at start-up
            conn.execute("update feedback set created = %s", [(datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()])
        events, fresh = store.records.feedback_events()
        assert len(events) == 2 and fresh.horizon == max(cursor.seen) and fresh.seen == frozenset()
    finally:
        store.close()


def test_a_server_gone_and_back_is_unavailable_then_recovers(pg_cluster, pg_url, caplog):
    store = Store(pg_url)
    try:
        store.audit.record([entry("g1")])
        with caplog.at_level(logging.WARNING, logger="huashu"):
            pg_cluster.stop()
            try:
                started = time.monotonic()
                for _ in range(3):
                    with pytest.raises(StoreUnavailable, match="nothing was written"):
                        store.records.record_feedback("g1", "product.in-stock-01", "product", "sent", None)
                with pytest.raises(StoreUnavailable):
                    store.qa.audit(AuditFilters(), 10)
                assert time.monotonic() - started < 15
                assert store.database.failure.startswith("cannot be reached")
                assert store.database.probe(every=0) is not None
            finally:
                pg_cluster.start()
            deadline = time.monotonic() + 20
            while store.database.probe(every=0) is not None:
                assert time.monotonic() < deadline, store.database.failure
                time.sleep(0.2)
        said = [r.getMessage() for r in caplog.records if "cannot be written" in r.getMessage()]
        assert len(said) == 1 and PASSWORD not in said[0] and "***" in said[0] and "HUASHU_DATABASE_URL" in said[0]
        store.records.record_feedback("g1", "product.in-stock-01", "product", "sent", None)
        assert store.records.feedback_events()[0] == [("product.in-stock-01", "product", "sent")]
    finally:
        store.close()


def test_a_server_that_stops_answering_is_unavailable_within_seconds_then_recovers(pg_cluster, pg_url):
    """Found by an operator's audit: a PostgreSQL up but not answering (frozen: its sockets open, nothing said)
    went unnoticed; the store said ok, and every write waited on it for as long as it stayed frozen. A heartbeat
    query on a connection of its own now says within seconds that the server does not answer: the store is
    unavailable (503 at once, nothing written) until it answers again."""
    store = Store(pg_url)
    try:
        store.audit.record([entry("z1")])
        pg_cluster.freeze(True)
        try:
            deadline = time.monotonic() + 15
            while store.database.probe(every=0) is None:
                assert time.monotonic() < deadline, "the frozen server was not noticed"
                time.sleep(0.2)
            assert "not answering" in store.database.probe(every=0)
            refused = {}

            def write():
                try:
                    store.records.record_feedback("z1", "product.in-stock-01", "product", "sent", None)
                except StoreUnavailable as exc:
                    refused["message"] = str(exc)

            writer = threading.Thread(target=write, daemon=True)
            writer.start()
            writer.join(5)  # refused at once, not left waiting on the frozen server
            assert not writer.is_alive() and "nothing was written" in refused["message"]
            reader = threading.Thread(target=lambda: refused.update(read=_refused_read(store)), daemon=True)
            reader.start()
            reader.join(5)
            assert not reader.is_alive() and refused["read"]
        finally:
            pg_cluster.freeze(False)
        deadline = time.monotonic() + 15
        while store.database.probe(every=0) is not None:
            assert time.monotonic() < deadline, store.database.failure
            time.sleep(0.2)
        store.records.record_feedback("z1", "product.in-stock-01", "product", "sent", None)
        assert store.records.feedback_events()[0] == [("product.in-stock-01", "product", "sent")]

        # A failure the silence hid is found again once the server answers: answering is not taking writes.
        _refuse_writes(store, True, pg_cluster)
        try:
            with pytest.raises(StoreUnavailable):
                store.records.record_feedback("z1", "product.in-stock-02", "product", "sent", None)
            pg_cluster.freeze(True)
            try:
                deadline = time.monotonic() + 15
                while "not answering" not in (store.database.probe(every=0) or ""):
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            finally:
                pg_cluster.freeze(False)
            deadline = time.monotonic() + 15
            while "not answering" in (store.database.probe(every=0) or ""):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert "read_only" in (store.database.probe(every=0) or ""), store.database.failure
        finally:
            _refuse_writes(store, False, pg_cluster)
    finally:
        store.close()


def _refused_read(store) -> bool:
    try:
        store.records.get_request("z1")
    except StoreUnavailable:
        return True
    return False


def test_a_url_that_does_not_work_is_named_without_its_password(pg_cluster):
    unused = pg_cluster.url("huashu_template").replace(f":{pg_cluster.port}/", ":1/")
    with pytest.raises(StoreError) as refused:
        check_database(unused)
    message = str(refused.value)
    assert "HUASHU_DATABASE_URL" in message and "cannot be reached" in message and PASSWORD not in message and "***" in message
    with pytest.raises(StoreError, match="HUASHU_DATABASE_URL.*not a PostgreSQL URL"):
        check_database("mysql://u:pw@localhost/x")
    with pytest.raises(StoreError, match="not a valid PostgreSQL URL") as bad:
        check_database(f"postgresql://u:{PASSWORD}@localhost/x?nonsense=1")
    assert PASSWORD not in str(bad.value)
    with pytest.raises(ConfigError, match="HUASHU_DATABASE_URL is not a URL"):  # never taken for a SQLite path
        Settings(database_url="data/huashu.db").store_location
    missing = pg_cluster.url("no_such_database")
    with pytest.raises(StoreError, match="no_such_database.*does not exist") as absent:
        check_database(missing)
    assert PASSWORD not in str(absent.value)
