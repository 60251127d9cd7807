"""What agents and admins write besides the audit log: feedback on suggestions and the shop's own replies."""

from __future__ import annotations

import json

from intents.normalize import mask_pii
from service.store.audit import AuditWriter
from service.store.db import Database, now


class Records:
    def __init__(self, database: Database, audit: AuditWriter):
        self.database = database
        self.writer = audit

    def get_request(self, request_id: str) -> dict | None:
        """An audit row with its intents and replies decoded (queued rows included)."""
        self.writer.flush()
        db = self.database
        with db.lock:
            rows = list(db.db["requests"].rows_where("id = ?", [request_id]))
        if not rows:
            return None
        row = rows[0]
        return {**row, "intents": json.loads(row["intents"]), "replies": json.loads(row["replies"])}

    def record_feedback(self, request_id: str, reply_id: str, intent: str, action: str, final_text: str | None) -> int:
        row = {
            "created": now(),
            "request_id": request_id,
            "reply_id": reply_id,
            "intent": intent,
            "action": action,
            "final_text": mask_pii(final_text) if final_text else None,
        }
        db = self.database
        with db.lock, db.db.conn:
            return db.db["feedback"].insert(row).last_pk

    def feedback_events(self) -> list[tuple[str, str, str]]:
        """Every (reply_id, intent, action), oldest first: replayed into the adoption priors at start-up."""
        db = self.database
        with db.lock:
            return list(db.db.execute("select reply_id, intent, action from feedback order by id").fetchall())

    def shop_replies(self) -> list[dict]:
        """The shop's replies in use (not retired), oldest first."""
        db = self.database
        with db.lock:
            rows = db.db["shop_replies"].rows_where("retired is null", order_by="created")
            return [json.loads(row["record"]) for row in rows]
