"""The audit writer: every decision of /v1/suggest and /v1/classify as a row of `requests`, queued and
committed together by a background thread, off the response path."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass

from service.store.db import Database, now

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
            "model_version": self.model_version,
            "latency_ms": round(self.latency_ms, 2),
        }


class AuditWriter:
    """Audit rows wait in memory for a background writer that commits them together every
    `flush_interval` seconds; every read of the audit log flushes first, so nothing accepted is ever
    missing from an answer. 0 writes each batch in the request instead."""

    def __init__(self, database: Database, flush_interval: float = 0.0, store_raw: bool = False):
        self.database = database
        self.flush_interval = flush_interval
        self.store_raw = store_raw
        self._pending: list[dict] = []
        self._unwritten = 0
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._writer = None
        if flush_interval > 0:
            self._writer = threading.Thread(target=self._write_loop, name="audit-writer", daemon=True)
            self._writer.start()

    def record(self, entries: list[AuditEntry]) -> None:
        """Queue audit rows (or write them at once without a writer): PII-masked, the raw text only if asked."""
        rows = [entry.row(self.store_raw) for entry in entries]
        if self._writer is None:
            with self.database.lock, self.database.db.conn:
                self.database.db["requests"].insert_all(rows)
            return
        with self._pending_lock:
            self._pending.extend(rows)
            self._unwritten += len(rows)
            if len(self._pending) >= 512:
                self._wake.set()

    def flush(self) -> int:
        """Commit every queued audit row now; returns how many."""
        db = self.database
        with db.lock:
            with self._pending_lock:
                rows, self._pending = self._pending, []
            if rows:
                try:
                    with db.db.conn:
                        db.db["requests"].insert_all(rows)
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

    def close(self) -> None:
        """Stop the writer and commit what is queued (a clean shutdown loses nothing)."""
        self._closing.set()
        self._wake.set()
        if self._writer is not None:
            self._writer.join(timeout=30)
        self.flush()
