"""The SQLite file (sqlite-utils): one connection per process, WAL, and the versioned migrations of its tables."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

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


class Database:
    """One connection per process, serialised by a lock; WAL and a busy timeout let
    several worker processes share the file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        with self.lock:
            self._prepare()

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

    def close(self) -> None:
        self.db.conn.close()
