"""What agents write besides the audit log: feedback on suggestions (idempotent on a client key, and
moving the row up the review queue when agents disagree with it), and the feedback read back, in order,
for the adoption priors of every process."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from intents.normalize import mask_pii
from service.errors import Conflict, NotFound
from service.store.audit import AuditWriter
from service.store.db import PRIORITY_SQL, BaseDatabase, now


@dataclass(frozen=True)
class FeedbackCursor:
    """How far a reader of the feedback has come. Ids are taken in insert order, but with PostgreSQL a
    transaction holding a lower id may commit after one holding a higher: reading on from the highest id
    seen would skip it. So every id up to `horizon` has been read (or will never appear), the ids above it
    already read are `seen`, and each read asks again for the ids above the horizon not seen yet. The horizon
    moves up to the highest id of a read once that read is `late_commit_s` old (SQLite, where ids commit in
    order: at once, so the cursor is just the last id)."""

    horizon: int = 0
    seen: frozenset[int] = frozenset()
    marks: tuple[tuple[float, int], ...] = field(default=())  # (when read, monotonic; the highest id then)


class Records:
    MAX_GAPS = 500  # ids a feedback read asks for one by one; with more, it re-reads every id above the horizon

    def __init__(self, database: BaseDatabase, audit: AuditWriter):
        self.database = database
        self.writer = audit

    def get_request(self, request_id: str) -> dict | None:
        """An audit row with its intents and replies decoded (queued rows included)."""
        self.writer.flush()
        with self.database.reading() as db:
            rows = db.query("select * from requests where id = ?", [request_id])
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
        the same key for different feedback is a conflict. Feedback on one request is written one at a
        time (its audit row is locked first), so that replicas storing feedback on it together count each
        (request, reply, action) once."""
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

        def earlier(db) -> tuple[int, bool]:
            before = db.query("select * from feedback where idempotency_key = ?", [idempotency_key])[0]
            same = (before["request_id"], before["reply_id"], before["action"]) == (request_id, reply_id, action)
            if not same:
                raise Conflict(f"Idempotency-Key {idempotency_key!r} was used for other feedback ({before['reply_id']!r}, {before['action']!r})")
            return before["id"], False

        with self.database.writing() as db:
            if not db.lock_row("requests", request_id):
                raise NotFound(f"unknown request id {request_id!r} (its audit row is gone: purged)")
            if idempotency_key is not None and db.execute("select 1 from feedback where idempotency_key = ?", [idempotency_key]).fetchone():
                return earlier(db)
            counted = db.execute(
                "select 1 from feedback where request_id = ? and reply_id = ? and action = ? limit 1", [request_id, reply_id, action]
            ).fetchone()
            feedback_id = db.insert("feedback", row, unique="(idempotency_key) where idempotency_key is not null")
            if feedback_id is None:  # the same key stored meanwhile for another request (another replica)
                return earlier(db)
            if counted is None:  # the adoption counts: each (request, reply, action) once
                db.execute(
                    "insert into feedback_daily (day, intent, reply_id, action, requests)"
                    " select substr(created, 1, 10), intent, ?, ?, 1 from requests"
                    " where id = ? and coalesce(endpoint, 'suggest') = 'suggest'"
                    " on conflict (day, intent, reply_id, action) do update set requests = feedback_daily.requests + 1",
                    [reply_id, action, request_id],
                )
            db.execute(f"update requests set priority = (select {PRIORITY_SQL} from requests r where r.id = requests.id) where id = ?", [request_id])
        return feedback_id, True

    def feedback_events(self) -> tuple[list[tuple[str, str, str]], FeedbackCursor]:
        """Every (reply_id, intent, action), oldest first, replayed into the adoption priors at start-up, and
        the cursor the follower reads on from."""
        return self.feedback_since(FeedbackCursor())

    def feedback_since(self, after: int | FeedbackCursor) -> tuple[list[tuple[str, str, str]], FeedbackCursor]:
        """The (reply_id, intent, action) of the feedback rows not read yet (`after`: a cursor from the last
        call, or an id: every row up to it was read), in id order, and the cursor to pass next time. A row
        repeating an earlier one's (request, reply, action) is read but is no event: the priors count what an
        agent did with a suggestion once, as the adoption report does (a retry without an Idempotency-Key, or a
        double click, moved the ranking on every replica). Feedback on one request is stored one row at a
        time, so the first of them has the lowest id."""
        cursor = after if isinstance(after, FeedbackCursor) else FeedbackCursor(horizon=after)
        read_to = max([cursor.horizon, *(m for _, m in cursor.marks[-1:])])
        # Of the ids up to the last read's highest, only those not seen can still appear (usually none, or the
        # few a rolled-back insert used): asked for by id, so a read costs the new rows, not the last minute's.
        gaps = [i for i in range(cursor.horizon + 1, read_to + 1) if i not in cursor.seen]
        query = (
            "select f.id, f.reply_id, f.intent, f.action, f.created, exists (select 1 from feedback e where"
            " e.request_id = f.request_id and e.reply_id = f.reply_id and e.action = f.action and e.id < f.id)"
            " from feedback f where f.id > ?"
        )
        params = [read_to]
        if len(gaps) > self.MAX_GAPS:
            params = [cursor.horizon]
        elif gaps:
            query += f" or f.id in ({', '.join('?' * len(gaps))})"
            params += gaps
        with self.database.reading() as db:
            rows = db.execute(query + " order by f.id", params).fetchall()
        settle = self.database.late_commit_s
        fresh = [row for row in rows if row[0] not in cursor.seen]
        clock = time.monotonic()
        top = max([read_to, *(row[0] for row in rows[-1:])])
        horizon, marks = cursor.horizon, cursor.marks
        if settle > 0 and not cursor.marks and not cursor.seen:
            # A first read (start-up): rows stamped `settle` ago are settled; only the ids above the newest of
            # them are kept, so the next reads re-read a minute of feedback, not all of it.
            old = (datetime.now(timezone.utc) - timedelta(seconds=settle)).isoformat(timespec="milliseconds")
            horizon = max([row[0] for row in rows if (row[4] or "") < old], default=horizon)
        marks = marks + ((clock, top),)
        while marks and (settle <= 0 or marks[0][0] <= clock - settle):
            horizon = max(horizon, marks[0][1])
            marks = marks[1:]
        seen = frozenset(i for i in (cursor.seen | {row[0] for row in fresh}) if i > horizon)
        events = [(reply, intent, action) for _, reply, intent, action, _, repeat in fresh if not repeat]
        return events, FeedbackCursor(horizon, seen, marks)
