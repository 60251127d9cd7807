"""The SQLite store (sqlite-utils): requests decided, agents' feedback, shop replies; versioned migrations."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from intents.normalize import mask_pii

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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """One connection per process, serialised by a lock; WAL and a busy timeout let
    several worker processes share the file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.Lock()
        with self._lock:
            migrations.apply(self.db)

    def close(self) -> None:
        self.db.conn.close()

    def record_request(
        self,
        request_id: str,
        normalized: str,
        intents: list[tuple[str, float]],
        reply_ids: list[str],
        handoff: bool,
        model_version: str,
        latency_ms: float,
        psychology: str | None = None,
        emotion: str | None = None,
        escalate: bool = False,
    ) -> None:
        row = {
            "id": request_id,
            "created": _now(),
            "message": mask_pii(normalized),
            "intent": intents[0][0],
            "intents": json.dumps([[i, round(c, 4)] for i, c in intents]),
            "replies": json.dumps(reply_ids),
            "handoff": int(handoff),
            "model_version": model_version,
            "latency_ms": round(latency_ms, 2),
            "psychology": psychology,
            "emotion": emotion,
            "escalate": int(escalate),
        }
        with self._lock, self.db.conn:
            self.db["requests"].insert(row)

    def get_request(self, request_id: str) -> dict | None:
        with self._lock:
            rows = list(self.db["requests"].rows_where("id = ?", [request_id]))
        if not rows:
            return None
        row = rows[0]
        return {**row, "intents": json.loads(row["intents"]), "replies": json.loads(row["replies"])}

    def record_feedback(self, request_id: str, reply_id: str, intent: str, action: str, final_text: str | None) -> int:
        row = {
            "created": _now(),
            "request_id": request_id,
            "reply_id": reply_id,
            "intent": intent,
            "action": action,
            "final_text": mask_pii(final_text) if final_text else None,
        }
        with self._lock, self.db.conn:
            return self.db["feedback"].insert(row).last_pk

    def feedback_events(self):
        """Every (reply_id, intent, action), oldest first: replayed into the adoption priors at start-up."""
        with self._lock:
            return list(self.db.execute("select reply_id, intent, action from feedback order by id").fetchall())

    def add_shop_reply(self, record: dict) -> None:
        with self._lock, self.db.conn:
            self.db["shop_replies"].insert({"id": record["id"], "created": _now(), "record": json.dumps(record, ensure_ascii=False)})

    def shop_replies(self) -> list[dict]:
        with self._lock:
            return [json.loads(row["record"]) for row in self.db["shop_replies"].rows_where(order_by="created")]
