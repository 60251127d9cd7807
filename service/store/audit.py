"""The audit writer: every decision of /v1/suggest and /v1/classify as a row of `requests`, queued and
committed together by a background thread, off the response path; or (PostgreSQL's default) committed
before the answer, requests arriving together sharing one transaction."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

from service.errors import StoreUnavailable, TimedOut
from service.store.db import DEADLINE, HISTOGRAM_BINS, BaseDatabase, Connection, _past_deadline, now

log = logging.getLogger("huashu")


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
    knowledge_point: str | None = None  # the best matched point, None when none fitted (or for /v1/classify)
    knowledge_confidence: float | None = None
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier turns (role, PII-masked text), oldest first
    reply_texts: list[str] = field(default_factory=list)  # the replies' texts as shown (filled in, PII-masked)

    def row(self, store_raw: bool) -> dict:
        second = self.intents[1][1] if len(self.intents) > 1 else 0.0
        return {
            "id": self.id,
            "created": now(),
            "endpoint": self.endpoint,
            "message": self.masked,
            "tokens": json.dumps(self.tokens, ensure_ascii=False),
            "unmasked_message": self.normalized if store_raw else None,
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
            "knowledge_point": self.knowledge_point,
            "knowledge_confidence": self.knowledge_confidence,
            # the queue's priority before any feedback: low confidence and a narrow margin first
            "priority": round((1 - self.intents[0][1]) + (1 - (self.intents[0][1] - second)), 4),
            "reviewed": 0,
            "history": json.dumps([{"role": r, "text": t} for r, t in self.history], ensure_ascii=False) if self.history else None,
            "reply_texts": json.dumps(self.reply_texts, ensure_ascii=False),
            "model_version": self.model_version,
            "latency_ms": round(self.latency_ms, 2),
        }


def _bin(confidence: float | None) -> int:
    return min(int((confidence or 0.0) * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)


def insert_rows(db: Connection, rows: list[dict]) -> None:
    """Audit rows and the daily counts the reports read (requests per intent and confidence bin,
    replies shown), in the caller's transaction. The counts are added in key order: two processes adding
    to the same days and intents at once then never wait for each other in a circle (PostgreSQL)."""
    db.insert_all("requests", rows)
    daily: dict[tuple, int] = {}
    shown: dict[tuple, int] = {}
    for row in rows:
        day = row["created"][:10]
        key = (day, row["endpoint"], row["intent"], _bin(row["confidence"]))
        daily[key] = daily.get(key, 0) + 1
        if row["endpoint"] == "suggest":
            for reply_id in json.loads(row["replies"]):
                shown[(day, row["intent"], reply_id)] = shown.get((day, row["intent"], reply_id), 0) + 1
    db.executemany(
        "insert into requests_daily (day, endpoint, intent, bin, requests) values (?, ?, ?, ?, ?)"
        " on conflict (day, endpoint, intent, bin) do update set requests = requests_daily.requests + excluded.requests",
        [(*key, n) for key, n in sorted(daily.items())],
    )
    db.executemany(
        "insert into reply_shown (day, intent, reply_id, shown) values (?, ?, ?, ?)"
        " on conflict (day, intent, reply_id) do update set shown = reply_shown.shown + excluded.shown",
        [(*key, n) for key, n in sorted(shown.items())],
    )


@dataclass
class _Batch:
    """One request's audit rows on their way to a shared transaction."""

    rows: list[dict]
    deadline: float | None = field(default_factory=DEADLINE.get)  # the request's (time.monotonic())
    done: bool = False
    error: BaseException | None = None

    def late(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


def _too_late() -> TimedOut:
    return TimedOut("the request's deadline passed before its audit row was written (it is answered 504); nothing was written")


class AuditWriter:
    """Audit rows wait in memory for a background writer that commits them together every
    `flush_interval` seconds; every read of the audit log flushes first, so nothing accepted is ever
    missing from an answer. 0 commits each request's rows before it is answered, in one transaction with the
    rows of requests arriving meanwhile.

    When the store refuses writes (read-only, full) the rows already accepted stay queued and the writer
    retries, slower each time, the store saying so once; meanwhile a request needing an audit row is
    refused (503) rather than answered without one. The queue holds at most `max_pending` rows."""

    def __init__(self, database: BaseDatabase, flush_interval: float = 0.0, store_raw: bool = False, max_pending: int = 20_000):
        self.database = database
        self.flush_interval = flush_interval
        self.store_raw = store_raw
        self.max_pending = max_pending
        self._pending: list[dict] = []
        self._unwritten = 0
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._waiting: list[_Batch] = []  # rows to commit in the request, waiting for the transaction open now
        self._commit_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._writer = None
        self.observe = None  # called with (store writable, rows pending) as they change: the metrics
        self.database.listeners.append(self._observed)
        if flush_interval > 0:
            self._writer = threading.Thread(target=self._write_loop, name="audit-writer", daemon=True)
            self._writer.start()

    def accepting(self) -> None:
        """Raise StoreUnavailable (503) when a new audit row could not be kept."""
        failure = self.database.probe()
        if failure:
            raise StoreUnavailable(f"the audit log cannot be written ({failure}); the request was not answered")
        if self._unwritten >= self.max_pending:
            raise StoreUnavailable(f"{self._unwritten} audit rows are waiting to be written; retry shortly")

    def record(self, entries: list[AuditEntry]) -> None:
        """Queue audit rows (or, without a writer, commit them before returning): PII-masked, the raw text only
        if asked. Past the request's deadline (`DEADLINE`: its answer is a 504) nothing is written: TimedOut."""
        rows = [entry.row(self.store_raw) for entry in entries]
        if _past_deadline():
            raise _too_late()
        if self._writer is None:
            try:
                self._commit_together(rows)
            finally:
                self._observed()
            return
        self.accepting()
        with self._pending_lock:
            self._pending.extend(rows)
            self._unwritten += len(rows)
            if len(self._pending) >= 512:
                self._wake.set()
        self._observed()

    def _commit_together(self, rows: list[dict]) -> None:
        """Commit `rows` before returning, in one transaction with the rows of requests arriving meanwhile
        (group commit): while one transaction is open the next callers wait, and the first of them to go on
        commits every row waiting by then. Each caller returns once its own rows are committed, or raises
        what refused them; rows of a failed transaction are not written. Rows whose request's deadline passed while
        they waited are left out (TimedOut): that request is answered 504, and QA must not read replies the agent
        never received. (A transaction already under way when the deadline passes still commits.)"""
        batch = _Batch(rows)
        with self._pending_lock:
            self._waiting.append(batch)
        with self._commit_lock:
            if not batch.done:
                with self._pending_lock:
                    group, self._waiting = self._waiting, []
                for member in group:
                    if member.late():
                        member.done, member.error = True, _too_late()
                group = [member for member in group if member.error is None]
                try:
                    if group:
                        with self.database.writing() as db:
                            insert_rows(db, [row for member in group for row in member.rows])
                except BaseException as exc:
                    for member in group:
                        member.done, member.error = True, exc
                    if batch.error is exc:
                        raise
                for member in group:
                    member.done = True
        if batch.error is not None:  # refused in a transaction another request opened, or too late for one
            if isinstance(batch.error, (StoreUnavailable, TimedOut)):
                raise type(batch.error)(str(batch.error))
            raise StoreUnavailable(f"the audit row could not be written ({batch.error}); nothing was written")

    def flush(self) -> int:
        """Commit every queued audit row now; returns how many (StoreUnavailable when the store refuses:
        the rows stay queued). One flush at a time: a reader's flush that finds the queue empty because the
        background writer has just taken it waits until those rows are committed, so it never reads
        before them."""
        with self._flush_lock:
            with self._pending_lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                with self.database.writing() as db:
                    insert_rows(db, rows)
            except BaseException:
                with self._pending_lock:  # back to the front of the queue, for the next flush
                    self._pending[:0] = rows
                raise
            with self._pending_lock:
                self._unwritten -= len(rows)
        self._observed()
        return len(rows)

    def _observed(self) -> None:
        if self.observe is not None:
            self.observe(self.database.failure is None, self._unwritten)

    @property
    def pending(self) -> int:
        """Audit rows accepted but not committed yet."""
        return self._unwritten

    def _write_loop(self) -> None:
        backoff = self.flush_interval
        while not self._closing.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            self._observed()
            if not self._pending and self.database.probe():
                backoff = min(max(backoff * 2, 0.25), 1.0)
                continue
            try:
                self.flush()
                backoff = self.flush_interval
            except StoreUnavailable:  # said once by the store; keep the rows and try again, slower
                backoff = min(max(backoff * 2, 0.25), 1.0)
            except self.database.Error as exc:
                self.database.failed(str(exc))
                backoff = min(max(backoff * 2, 0.25), 1.0)

    def close(self) -> None:
        """Stop the writer and commit what is queued (a clean shutdown loses nothing the store can take;
        what it cannot is counted in the log, not raised)."""
        self._closing.set()
        self._wake.set()
        if self._writer is not None:
            self._writer.join(timeout=30)
        try:
            self.flush()
        except (StoreUnavailable, self.database.Error) as exc:
            log.error("%d audit rows could not be written at shutdown and are lost: %s", self._unwritten, exc)
