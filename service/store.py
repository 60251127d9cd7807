"""The SQLite store (sqlite-utils): requests decided, agents' feedback, shop replies; versioned migrations."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from intents.normalize import mask_pii

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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class AuditEntry:
    """One decision of the service, as the audit log keeps it."""

    id: str
    endpoint: str  # "suggest" | "classify"
    normalized: str  # the normalised message, before masking (kept only with store_raw)
    masked: str  # PII-masked message
    tokens: list[str]  # tokens of the masked message
    intents: list[tuple[str, float]]  # best first
    replies: list[str]
    model_version: str
    latency_ms: float
    handoff: bool = False
    psychology: str | None = None
    psychology_confidence: float | None = None
    emotion: str | None = None
    emotion_score: float | None = None
    escalate: bool = False

    def row(self, store_raw: bool) -> dict:
        second = self.intents[1][1] if len(self.intents) > 1 else 0.0
        return {
            "id": self.id,
            "created": _now(),
            "endpoint": self.endpoint,
            "message": self.masked,
            "tokens": json.dumps(self.tokens, ensure_ascii=False),
            "raw_message": self.normalized if store_raw else None,
            "intent": self.intents[0][0],
            "confidence": round(self.intents[0][1], 4),
            "margin": round(self.intents[0][1] - second, 4),
            "intents": json.dumps([[i, round(c, 4)] for i, c in self.intents]),
            "replies": json.dumps(self.replies),
            "handoff": int(self.handoff),
            "psychology": self.psychology,
            "psychology_confidence": self.psychology_confidence,
            "emotion": self.emotion,
            "emotion_score": self.emotion_score,
            "escalate": int(self.escalate),
            "model_version": self.model_version,
            "latency_ms": round(self.latency_ms, 2),
        }


class Store:
    """One connection per process, serialised by a lock; WAL and a busy timeout let
    several worker processes share the file."""

    def __init__(self, path: Path, flush_interval: float = 0.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        with self._lock:
            self._prepare()
        # Audit rows wait in memory for a background writer that commits them together every
        # `flush_interval` seconds, off the response path; every read flushes first, so nothing
        # accepted is ever missing from an answer. 0 writes each batch in the request instead.
        self.flush_interval = flush_interval
        self._pending: list[dict] = []
        self._unwritten = 0
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._writer = None
        if flush_interval > 0:
            self._writer = threading.Thread(target=self._write_loop, name="audit-writer", daemon=True)
            self._writer.start()

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
        """Flush buffered audit rows and close the file (a clean shutdown loses nothing)."""
        self._closing.set()
        self._wake.set()
        if self._writer is not None:
            self._writer.join(timeout=30)
        self.flush()
        self.db.conn.close()

    def record_requests(self, entries: list["AuditEntry"], store_raw: bool = False) -> None:
        """Queue audit rows (or write them at once without a writer): PII-masked, the raw text only if asked."""
        rows = [entry.row(store_raw) for entry in entries]
        if self._writer is None:
            with self._lock, self.db.conn:
                self.db["requests"].insert_all(rows)
            return
        with self._pending_lock:
            self._pending.extend(rows)
            self._unwritten += len(rows)
            if len(self._pending) >= 512:
                self._wake.set()

    def flush(self) -> int:
        """Commit every queued audit row now; returns how many."""
        with self._lock:
            with self._pending_lock:
                rows, self._pending = self._pending, []
            if rows:
                try:
                    with self.db.conn:
                        self.db["requests"].insert_all(rows)
                except BaseException:
                    with self._pending_lock:  # back to the front of the queue, for the next flush
                        self._pending[:0] = rows
                    raise
                with self._pending_lock:
                    self._unwritten -= len(rows)
        return len(rows)

    @property
    def pending(self) -> int:
        """Audit rows accepted but not committed yet."""
        return self._unwritten

    def _write_loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except sqlite3.Error:  # e.g. the disk is full: keep the rows queued and try again
                log.exception("audit rows could not be written; retrying")
                time.sleep(self.flush_interval)

    def purge(self, before: str, dry_run: bool = False) -> dict[str, int]:
        """Delete audit rows created before `before` (an ISO date, UTC) with the feedback and reviews
        that point at them, in one transaction; returns the counts. Shop replies are kept."""
        self.flush()
        old = "select id from requests where created < ?"
        counts = {}
        with self._lock, self.db.conn:
            for table, where in (("feedback", f"request_id in ({old})"), ("reviews", f"request_id in ({old})"), ("requests", "created < ?")):
                counts[table] = self.db.execute(f"select count(*) from {table} where {where}", [before]).fetchone()[0]
                if not dry_run:
                    self.db.execute(f"delete from {table} where {where}", [before])
        return counts

    def get_request(self, request_id: str) -> dict | None:
        self.flush()
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

    # --- QA: audit, reviews, reports -------------------------------------------------------------

    _LATEST_REVIEW = (
        "(select v.* from reviews v join (select request_id, max(id) as id from reviews group by request_id) m on v.id = m.id)"
    )

    def _where(self, filters: "AuditFilters") -> tuple[str, list]:
        clauses, params = [], []
        if filters.intent:
            clauses.append("r.intent = ?")
            params.append(filters.intent)
        if filters.psychology:
            clauses.append("r.psychology = ?")
            params.append(filters.psychology)
        if filters.since:
            clauses.append("r.created >= ?")
            params.append(filters.since)
        if filters.until:
            clauses.append("r.created < ?")
            params.append(filters.until)
        if filters.confidence_below is not None:
            clauses.append("r.confidence < ?")
            params.append(filters.confidence_below)
        if filters.reviewed is not None:
            clauses.append(("" if filters.reviewed else "not ") + "exists (select 1 from reviews x where x.request_id = r.id)")
        if filters.q:
            escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("r.message like ? escape '\\'")
            params.append(f"%{escaped}%")
        if filters.endpoint:
            clauses.append("r.endpoint = ?")
            params.append(filters.endpoint)
        return (" where " + " and ".join(clauses)) if clauses else "", params

    def _items(self, rows: list[dict]) -> list[dict]:
        """Audit rows with their latest review and the agents' actions on their replies."""
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        reviews = {
            r["request_id"]: r
            for r in self.db.query(f"select * from {self._LATEST_REVIEW} where request_id in ({marks})", ids)
        }
        actions: dict[str, dict[str, list[str]]] = {}
        for f in self.db.query(f"select request_id, reply_id, action from feedback where request_id in ({marks}) order by id", ids):
            chosen = actions.setdefault(f["request_id"], {"clicked": [], "sent": [], "edited": [], "dismissed": []})
            if f["reply_id"] not in chosen[f["action"]]:
                chosen[f["action"]].append(f["reply_id"])
        items = []
        for row in rows:
            review = reviews.get(row["id"])
            items.append(
                {
                    **{k: v for k, v in row.items() if k not in ("raw_message", "handoff", "escalate", "tokens", "intents", "replies")},
                    "tokens": json.loads(row["tokens"]) if row.get("tokens") else [],
                    "intents": [{"id": i, "confidence": c} for i, c in json.loads(row["intents"])],
                    "replies": json.loads(row["replies"]),
                    "handoff": bool(row["handoff"]),
                    "escalate": bool(row.get("escalate")),
                    "agent": actions.get(row["id"], {"clicked": [], "sent": [], "edited": [], "dismissed": []}),
                    "review": None
                    if review is None
                    else {
                        "id": review["id"],
                        "created": review["created"],
                        "reviewer": review["reviewer"],
                        "intents": json.loads(review["intents"]),
                        "psychology": review["psychology"],
                        "comment": review["comment"],
                    },
                }
            )
        return items

    def audit(self, filters: "AuditFilters", limit: int, offset: int) -> tuple[int, list[dict]]:
        self.flush()  # rows still queued belong in every answer
        where, params = self._where(filters)
        with self._lock:
            total = self.db.execute(f"select count(*) from requests r{where}", params).fetchone()[0]
            rows = list(
                self.db.query(f"select r.* from requests r{where} order by r.created desc, r.id limit ? offset ?", [*params, limit, offset])
            )
            return total, self._items(rows)

    def audit_item(self, request_id: str) -> dict | None:
        self.flush()  # rows still queued belong in every answer
        with self._lock:
            rows = list(self.db.query("select r.* from requests r where r.id = ?", [request_id]))
            return self._items(rows)[0] if rows else None

    def queue(self, limit: int, offset: int) -> tuple[int, list[dict]]:
        """Unreviewed rows, most useful to review first: low confidence, a narrow top-2 margin, and
        agents' choices that disagree with the predicted intent (a reply for another intent used,
        or the suggestions dismissed)."""
        self.flush()  # rows still queued belong in every answer
        priority = (
            "round((1 - coalesce(r.confidence, 0)) + (1 - coalesce(r.margin, 0))"
            " + exists (select 1 from feedback f where f.request_id = r.id and f.action != 'dismissed' and f.intent != r.intent)"
            " + 0.5 * exists (select 1 from feedback f where f.request_id = r.id and f.action = 'dismissed'), 4)"
        )
        unreviewed = "not exists (select 1 from reviews x where x.request_id = r.id)"
        with self._lock:
            total = self.db.execute(f"select count(*) from requests r where {unreviewed}").fetchone()[0]
            rows = list(
                self.db.query(
                    f"select r.*, {priority} as priority from requests r where {unreviewed}"
                    " order by priority desc, r.created desc limit ? offset ?",
                    [limit, offset],
                )
            )
            return total, self._items(rows)

    def add_review(self, request_id: str, intents: list[str], psychology: str | None, reviewer: str, comment: str | None) -> dict:
        self.flush()  # rows still queued belong in every answer
        row = {
            "created": _now(),
            "request_id": request_id,
            "reviewer": reviewer,
            "intent": intents[0],
            "intents": json.dumps(intents),
            "psychology": psychology,
            "comment": mask_pii(comment) if comment else None,
        }
        with self._lock, self.db.conn:
            review_id = self.db["reviews"].insert(row).last_pk
        return {"id": review_id, **{k: v for k, v in row.items() if k != "intent"}, "intents": intents}

    def reviews_of(self, request_id: str) -> list[dict]:
        self.flush()  # rows still queued belong in every answer
        with self._lock:
            return [
                {k: v for k, v in r.items() if k not in ("intent", "request_id")} | {"intents": json.loads(r["intents"])}
                for r in self.db.query("select * from reviews where request_id = ? order by id", [request_id])
            ]

    def reviewed(self, since: str | None, until: str | None) -> list[dict]:
        """Reviewed rows with their latest review, oldest first (reports and export)."""
        self.flush()  # rows still queued belong in every answer
        filters = AuditFilters(since=since, until=until, reviewed=True)
        where, params = self._where(filters)
        with self._lock:
            rows = list(self.db.query(f"select r.* from requests r{where} order by r.created, r.id", params))
            return self._items(rows)

    def confidences(self, since: str | None, until: str | None) -> list[float]:
        self.flush()  # rows still queued belong in every answer
        where, params = self._where(AuditFilters(since=since, until=until))
        with self._lock:
            return [row[0] for row in self.db.execute(f"select coalesce(r.confidence, 0) from requests r{where}", params).fetchall()]

    def adoption(self, since: str | None, until: str | None) -> tuple[list[dict], list[dict]]:
        """Suggest requests (intent, replies shown) and the feedback on them within the dates."""
        self.flush()  # rows still queued belong in every answer
        where, params = self._where(AuditFilters(since=since, until=until, endpoint="suggest"))
        with self._lock:
            requests = list(self.db.query(f"select r.id, r.intent, r.replies from requests r{where}", params))
            feedback = list(
                self.db.query(
                    f"select f.request_id, f.reply_id, f.action from feedback f join requests r on r.id = f.request_id{where}", params
                )
            )
        return requests, feedback


@dataclass
class AuditFilters:
    intent: str | None = None
    psychology: str | None = None
    since: str | None = None
    until: str | None = None
    confidence_below: float | None = None
    reviewed: bool | None = None
    q: str | None = None
    endpoint: str | None = None
