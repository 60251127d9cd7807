"""The SQLite file (sqlite-utils): one connection per process, WAL, and the versioned migrations of its tables."""

from __future__ import annotations

import contextvars
import json
import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from service.errors import StoreUnavailable, TimedOut

log = logging.getLogger("huashu")
migrations = Migrations("huashu")


@migrations()
def m001_requests_feedback_replies(db: sqlite_utils.Database) -> None:
    db["requests"].create(
        {
            "id": str,
            "created": str,
            "message": str,  # normalised and PII-masked; never the raw text
            "intent": str,
            "intents": str,  # JSON [[id, confidence], ...]
            "replies": str,  # JSON [reply id, ...] in the order shown
            "handoff": int,
            "model_version": str,
            "latency_ms": float,
        },
        pk="id",
    )
    db["requests"].create_index(["created"])
    db["feedback"].create(
        {
            "id": int,
            "created": str,
            "request_id": str,
            "reply_id": str,
            "intent": str,
            "action": str,
            "final_text": str,  # PII-masked
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
    )
    db["feedback"].create_index(["reply_id", "intent"])
    db["shop_replies"].create({"id": str, "created": str, "record": str}, pk="id")


@migrations()
def m002_requests_reading(db: sqlite_utils.Database) -> None:
    # What the service read from the customer, beside the intents.
    db["requests"].add_column("psychology", str)
    db["requests"].add_column("emotion", str)
    db["requests"].add_column("escalate", int)


@migrations()
def m003_audit_and_reviews(db: sqlite_utils.Database) -> None:
    # The audit log: every decision of /v1/suggest and /v1/classify, with what QA filters and sorts on.
    for column, kind in (
        ("endpoint", str), ("tokens", str), ("confidence", float), ("margin", float),
        ("psychology_confidence", float), ("emotion_score", float), ("raw_message", str),
    ):
        db["requests"].add_column(column, kind)
    for row in db["requests"].rows:
        intents = json.loads(row["intents"])
        second = intents[1][1] if len(intents) > 1 else 0.0
        db["requests"].update(
            row["id"], {"endpoint": "suggest", "confidence": intents[0][1], "margin": intents[0][1] - second}
        )
    db["requests"].create_index(["intent"])
    db["requests"].create_index(["confidence"])
    # QA labels: every review is kept; the latest one per request counts.
    db["reviews"].create(
        {
            "id": int,
            "created": str,
            "request_id": str,
            "reviewer": str,
            "intent": str,  # the main correct intent
            "intents": str,  # JSON [id, ...], main first
            "psychology": str,
            "comment": str,
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
    )
    db["reviews"].create_index(["request_id"])


@migrations()
def m004_unmasked_message(db: sqlite_utils.Database) -> None:
    # The column holds the normalised, unmasked message (kept only with HUASHU_STORE_RAW=1): say so.
    db.execute("alter table requests rename column raw_message to unmasked_message")


@migrations()
def m005_knowledge_point(db: sqlite_utils.Database) -> None:
    # The knowledge point the service matched (null: none fitted), for QA and the reports.
    db["requests"].add_column("knowledge_point", str)
    db["requests"].add_column("knowledge_confidence", float)


@migrations()
def m006_shop(db: sqlite_utils.Database) -> None:
    # The shop's own knowledge: profile, products and size charts (records as JSON), who changed what and
    # when, and the shop's replies kept when retired.
    db["shop_profile"].create({"id": int, "record": str, "updated": str, "actor": str}, pk="id")
    db["products"].create({"id": str, "record": str, "updated": str, "actor": str}, pk="id")
    db["size_charts"].create({"id": str, "record": str, "updated": str, "actor": str}, pk="id")
    db["shop_changes"].create(
        {"id": int, "created": str, "actor": str, "kind": str, "target": str, "action": str, "detail": str}, pk="id"
    )
    db["shop_changes"].create_index(["kind", "target"])
    db["shop_replies"].add_column("updated", str)
    db["shop_replies"].add_column("actor", str)
    db["shop_replies"].add_column("retired", str)


def now() -> str:
    """The current UTC time as stored: ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# How useful reviewing a row is: low confidence, a narrow top-2 margin, agents using another intent's reply,
# agents dismissing the suggestions. Kept in the row (updated by feedback) so the queue reads an index.
PRIORITY_SQL = (
    "round((1 - coalesce(r.confidence, 0)) + (1 - coalesce(r.margin, 0))"
    " + exists (select 1 from feedback f where f.request_id = r.id and f.action != 'dismissed' and f.intent != r.intent)"
    " + 0.5 * exists (select 1 from feedback f where f.request_id = r.id and f.action = 'dismissed'), 4)"
)
HISTOGRAM_BINS = 10


@migrations()
def m007_audit_at_scale(db: sqlite_utils.Database) -> None:
    # Pages and the review queue whose cost grows with the page, not the table: the queue's priority and
    # the review state kept in the row and indexed; feedback found by its request; daily counts for the
    # reports. And what QA reads beside the ids: the conversation before the row, the replies' texts,
    # the draft check's findings on what the agent sent, an idempotency key making a retried feedback safe.
    db["feedback"].create_index(["request_id"])
    db["feedback"].add_column("idempotency_key", str)
    db["feedback"].add_column("findings", str)
    db.execute("create unique index feedback_idempotency on feedback(idempotency_key) where idempotency_key is not null")
    for column, kind in (("priority", float), ("reviewed", int), ("history", str), ("reply_texts", str)):
        db["requests"].add_column(column, kind)
    db.execute("update requests set reviewed = exists (select 1 from reviews v where v.request_id = requests.id)")
    db.execute(f"update requests set priority = (select {PRIORITY_SQL} from requests r where r.id = requests.id)")
    db.execute("create index requests_queue on requests(reviewed, priority desc, created desc, id desc)")
    db.execute("create index requests_reviewed on requests(reviewed, created)")
    db.execute("create index requests_created_id on requests(created desc, id desc)")
    db["requests_daily"].create(
        {"day": str, "endpoint": str, "intent": str, "bin": int, "requests": int}, pk=("day", "endpoint", "intent", "bin")
    )
    db["reply_shown"].create({"day": str, "intent": str, "reply_id": str, "shown": int}, pk=("day", "intent", "reply_id"))
    db.execute(
        "insert into requests_daily select substr(created, 1, 10), coalesce(endpoint, 'suggest'), intent,"
        f" min(cast(coalesce(confidence, 0) * {HISTOGRAM_BINS} as integer), {HISTOGRAM_BINS - 1}), count(*)"
        " from requests group by 1, 2, 3, 4"
    )
    db.execute(
        "insert into reply_shown select substr(r.created, 1, 10), r.intent, j.value, count(*)"
        " from requests r, json_each(r.replies) j where coalesce(r.endpoint, 'suggest') = 'suggest' group by 1, 2, 3"
    )


@migrations()
def m008_feedback_rollup(db: sqlite_utils.Database) -> None:
    # The agents' actions per day (of the request), intent, reply and action, each (request, reply, action)
    # counted once, kept as feedback is written: the adoption report reads these, not every feedback row.
    db["feedback_daily"].create(
        {"day": str, "intent": str, "reply_id": str, "action": str, "requests": int}, pk=("day", "intent", "reply_id", "action")
    )
    db.execute(
        "insert into feedback_daily select substr(r.created, 1, 10), r.intent, f.reply_id, f.action, count(distinct f.request_id)"
        " from feedback f join requests r on r.id = f.request_id where coalesce(r.endpoint, 'suggest') = 'suggest'"
        " group by 1, 2, 3, 4"
    )


class StoreError(Exception):
    """The database cannot be opened: the message names the path and HUASHU_DB_PATH."""


# The current request's deadline (time.monotonic()), set by the timeout middleware: a query still running
# past it is interrupted, so abandoned work does not keep a core busy.
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("huashu_deadline", default=None)


def _past_deadline() -> int:
    deadline = DEADLINE.get()
    return int(deadline is not None and time.monotonic() > deadline)


class Database:
    """One connection per process, serialised by a lock; WAL and a busy timeout let several worker
    processes share the file. Whether the file can be written is part of its state: a write that fails
    (read-only, disk full) marks the store unavailable, logged once, until a write succeeds again."""

    def __init__(self, path: Path, lock_timeout: float = 5.0):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.failure: str | None = None  # why writes fail now, or None
        self._probed = 0.0
        where = f"{self.path} (HUASHU_DB_PATH)"
        if self.path.is_dir():
            raise StoreError(f"{where} is a directory; give the path of a SQLite file (it is created if missing)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{where} cannot be opened: {exc}") from None
        conn.set_progress_handler(_past_deadline, 20_000)
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        try:
            with self.lock:
                self._prepare()
        except sqlite3.DatabaseError as exc:
            conn.close()
            if "readonly" in str(exc) or "read-only" in str(exc):
                raise StoreError(f"{where} is read-only and needs its tables created or updated: {exc}") from None
            raise StoreError(f"{where} is not a usable SQLite database ({exc}); the file was left as it is") from None
        failure = self._write_probe()
        if failure:
            self.failed(failure)

    def _write_probe(self) -> str | None:
        """None when the file takes writes, else why not (a read-only file or file system)."""
        try:
            with self.lock:
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                self.db.execute(f"PRAGMA user_version = {int(version)}")
        except sqlite3.Error as exc:
            return str(exc)
        return None

    def _prepare(self, patience: float = 30.0) -> None:
        """WAL mode and the migrations. Worker processes opening a new file together race for it:
        switching to WAL can fail at once with 'database is locked' (SQLite does not wait for that
        one), and the migrations' check-then-create steps need SQLite's write lock. Both are retried
        until `patience` runs out."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA busy_timeout=10000")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.db.conn.execute("BEGIN IMMEDIATE")
                try:
                    migrations.apply(self.db)
                except BaseException:
                    self.db.conn.rollback()
                    raise
                self.db.conn.commit()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # --- state ---------------------------------------------------------------------------------------

    def failed(self, reason: str) -> None:
        """Writes fail: say so once (not at every retry)."""
        if self.failure != reason:
            log.error(
                "the store %s (HUASHU_DB_PATH) cannot be written, requests needing it answer 503 until it can: %s", self.path, reason
            )
        self.failure = reason

    def recovered(self) -> None:
        if self.failure is not None:
            log.warning("the store takes writes again")
        self.failure = None

    def probe(self, every: float = 1.0) -> str | None:
        """While writes fail, try a harmless write again (at most once per `every` seconds): the store
        recovers by itself once the file is writable again. Returns the failure, or None."""
        if self.failure is None:
            return None
        now = time.monotonic()
        if now - self._probed >= every:
            self._probed = now
            failure = self._write_probe()
            if failure:
                self.failed(failure)
            else:
                self.recovered()
        return self.failure

    @contextmanager
    def writing(self):
        """One write transaction, or StoreUnavailable (503) with nothing written: the lock not free within
        `lock_timeout`, or the file refusing the write (read-only, full). A write that commits is never
        interrupted by the request's deadline: it is answered."""
        if not self.lock.acquire(timeout=self.lock_timeout):
            raise StoreUnavailable(f"the store is busy (waited {self.lock_timeout:g} s); nothing was written, retry")
        token = DEADLINE.set(None)
        try:
            try:
                with self.db.conn:
                    yield self.db
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreUnavailable(f"the store is busy ({exc}); nothing was written, retry") from None
                self.failed(str(exc))
                raise StoreUnavailable(f"the store cannot be written ({exc}); nothing was written") from None
            self.recovered()
        finally:
            DEADLINE.reset(token)
            self.lock.release()

    @contextmanager
    def reading(self):
        """The connection for reads, under the lock; a query past the request's deadline is stopped (504)."""
        with self.lock:
            try:
                yield self.db
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    raise TimedOut("the query ran past the request's deadline and was stopped") from None
                raise

    def close(self) -> None:
        """Close the connection once no other thread is using it (closing it under a running query crashes
        SQLite's C library); a later use raises sqlite3.ProgrammingError."""
        with self.lock:
            self.db.conn.close()


def check_database(path: Path) -> None:
    """Open the database once (creating or updating its tables) and close it: a bad path or file raises
    StoreError naming it, before anything else starts."""
    Database(path).close()
