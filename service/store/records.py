"""What agents write besides the audit log: feedback on suggestions (idempotent on a client key, and
moving the row up the review queue when agents disagree with it)."""

from __future__ import annotations

import json

from intents.normalize import mask_pii
from service.errors import Conflict
from service.store.audit import AuditWriter
from service.store.db import PRIORITY_SQL, Database, now


class Records:
    def __init__(self, database: Database, audit: AuditWriter):
        self.database = database
        self.writer = audit

    def get_request(self, request_id: str) -> dict | None:
        """An audit row with its intents and replies decoded (queued rows included)."""
        self.writer.flush()
        with self.database.reading() as db:
            rows = list(db["requests"].rows_where("id = ?", [request_id]))
        if not rows:
            return None
        row = rows[0]
        return {**row, "intents": json.loads(row["intents"]), "replies": json.loads(row["replies"])}

    def record_feedback(
        self, request_id: str, reply_id: str, intent: str, action: str, final_text: str | None,
        findings: list[dict] | None = None, idempotency_key: str | None = None,
    ) -> tuple[int, bool]:
        """Store one feedback row and update the row's review priority, in one transaction: (id, new).
        With `idempotency_key`, a retry of the same feedback returns the first one's id (new False);
        the same key for different feedback is a conflict."""
        row = {
            "created": now(),
            "request_id": request_id,
            "reply_id": reply_id,
            "intent": intent,
            "action": action,
            "final_text": mask_pii(final_text) if final_text else None,
            "findings": json.dumps(findings, ensure_ascii=False) if findings else None,
            "idempotency_key": idempotency_key,
        }
        with self.database.writing() as db:
            if idempotency_key is not None:
                before = next(iter(db.query("select * from feedback where idempotency_key = ?", [idempotency_key])), None)
                if before is not None:
                    same = (before["request_id"], before["reply_id"], before["action"]) == (request_id, reply_id, action)
                    if not same:
                        raise Conflict(f"Idempotency-Key {idempotency_key!r} was used for other feedback ({before['reply_id']!r}, {before['action']!r})")
                    return before["id"], False
            counted = db.execute(
                "select 1 from feedback where request_id = ? and reply_id = ? and action = ? limit 1", [request_id, reply_id, action]
            ).fetchone()
            feedback_id = db["feedback"].insert(row).last_pk
            if counted is None:  # the adoption counts: each (request, reply, action) once
                db.execute(
                    "insert into feedback_daily (day, intent, reply_id, action, requests)"
                    " select substr(created, 1, 10), intent, ?, ?, 1 from requests"
                    " where id = ? and coalesce(endpoint, 'suggest') = 'suggest'"
                    " on conflict (day, intent, reply_id, action) do update set requests = requests + 1",
                    [reply_id, action, request_id],
                )
            db.execute(f"update requests set priority = (select {PRIORITY_SQL} from requests r where r.id = requests.id) where id = ?", [request_id])
        return feedback_id, True

    def feedback_events(self) -> tuple[list[tuple[str, str, str]], int]:
        """Every (reply_id, intent, action), oldest first, replayed into the adoption priors at start-up, and
        the id of the last one (the follower reads on from there)."""
        events, last = self.feedback_since(0)
        return events, last

    def feedback_since(self, after: int, limit: int | None = None) -> tuple[list[tuple[str, str, str]], int]:
        """The (reply_id, intent, action) of feedback rows with an id above `after`, oldest first, and the
        last id read (`after` when there are none)."""
        query = "select id, reply_id, intent, action from feedback where id > ? order by id"
        with self.database.reading() as db:
            rows = db.execute(query + (f" limit {int(limit)}" if limit else ""), [after]).fetchall()
        return [(reply, intent, action) for _, reply, intent, action in rows], (rows[-1][0] if rows else after)
