"""What QA leads read and write: the audit log filtered and paged, the review queue, reviews, the rows
behind reports and exports, and the retention purge.

Pages are read by keyset (a cursor naming the last row seen), so a page costs what it holds, not what lies
before it, and a row reviewed meanwhile does not shift the next page. The reports read daily counts kept
as rows are written."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Iterator

from intents.normalize import mask_pii, normalize
from service.errors import NotFound, Unprocessable
from service.store.audit import AuditWriter
from service.store.db import DEADLINE, HISTOGRAM_BINS, BaseDatabase, now


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
    same_as: str | None = None  # a request id: rows with the same (masked) message


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> list:
    """The values of a cursor this service gave out; anything else is a 422."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != len(kinds) or not all(
        isinstance(v, k) and not isinstance(v, bool) for v, k in zip(values, kinds)
    ):
        raise Unprocessable("`after` is not a cursor of this listing: pass the `next` of the previous page")
    return values


_EMPTY_ACTIONS = ("clicked", "sent", "edited", "dismissed")


class QaQueries:
    """Reads of the audit log flush the audit writer first: rows still queued belong in every answer."""

    def __init__(self, database: BaseDatabase, audit: AuditWriter):
        self.database = database
        self.writer = audit

    def purge(self, before: str, dry_run: bool = False) -> dict[str, int]:
        """Delete audit rows created before `before` (an ISO date, UTC) with the feedback, reviews and
        daily counts that belong to them, in one transaction; returns the counts. Shop replies are kept."""
        self.writer.flush()
        old = "select id from requests where created < ?"
        counts = {}
        with self.database.writing() as db:
            for table, where in (("feedback", f"request_id in ({old})"), ("reviews", f"request_id in ({old})"), ("requests", "created < ?")):
                counts[table] = db.execute(f"select count(*) from {table} where {where}", [before]).fetchone()[0]
                if not dry_run:
                    db.execute(f"delete from {table} where {where}", [before])
            if not dry_run:
                for table in ("requests_daily", "reply_shown", "feedback_daily"):
                    db.execute(f"delete from {table} where day < ?", [before[:10]])
        return counts

    # The latest review of a row: by the (request_id) index, one probe per row, whatever the table's size.
    _IS_LATEST = "v.id = (select max(w.id) from reviews w where w.request_id = v.request_id)"

    def _where(self, filters: AuditFilters) -> tuple[list[str], list]:
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
            clauses.append("r.reviewed = ?")
            params.append(int(filters.reviewed))
        if filters.q:
            # The stored message is normalised (simplified, half-width): so is what is searched for.
            folded = normalize(filters.q)
            escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(f"r.message {self.database.like} ? escape '\\'")
            params.append(f"%{escaped}%")
        if filters.endpoint:
            clauses.append("r.endpoint = ?")
            params.append(filters.endpoint)
        if filters.same_as:
            clauses.append("r.message = (select s.message from requests s where s.id = ?)")
            params.append(filters.same_as)
        return clauses, params

    def _items(self, rows: list[dict], db) -> list[dict]:
        """Audit rows with their latest review, the agents' actions on their replies and what they sent."""
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        reviews = {r["request_id"]: r for r in db.query(f"select v.* from reviews v where v.request_id in ({marks}) and {self._IS_LATEST}", ids)}
        actions: dict[str, dict] = {}
        for f in db.query(
            f"select request_id, reply_id, action, final_text, findings from feedback where request_id in ({marks}) order by id", ids
        ):
            chosen = actions.setdefault(f["request_id"], {**{a: [] for a in _EMPTY_ACTIONS}, "final_texts": []})
            if f["reply_id"] not in chosen[f["action"]]:
                chosen[f["action"]].append(f["reply_id"])
            if f["final_text"]:
                chosen["final_texts"].append({
                    "reply_id": f["reply_id"], "action": f["action"], "text": f["final_text"],
                    "findings": json.loads(f["findings"]) if f["findings"] else [],
                })
        items = []
        hidden = ("unmasked_message", "handoff", "escalate", "tokens", "intents", "replies", "reply_texts", "history", "reviewed")
        for row in rows:
            review = reviews.get(row["id"])
            items.append(
                {
                    **{k: v for k, v in row.items() if k not in hidden},
                    "tokens": json.loads(row["tokens"]) if row.get("tokens") else [],
                    "intents": [{"id": i, "confidence": c} for i, c in json.loads(row["intents"])],
                    "replies": json.loads(row["replies"]),
                    "reply_texts": json.loads(row["reply_texts"]) if row.get("reply_texts") else [],
                    "history": json.loads(row["history"]) if row.get("history") else [],
                    "handoff": bool(row["handoff"]),
                    "escalate": bool(row.get("escalate")),
                    "agent": actions.get(row["id"], {**{a: [] for a in _EMPTY_ACTIONS}, "final_texts": []}),
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

    def audit(self, filters: AuditFilters, limit: int, offset: int = 0, after: str | None = None) -> tuple[int, list[dict], str | None]:
        """A page of rows, newest first: (total matching, items, cursor of the next page or None)."""
        self.writer.flush()  # rows still queued belong in every answer
        with self.database.reading() as db:
            clauses, params = self._where(filters)
            where = (" where " + " and ".join(clauses)) if clauses else ""
            total = db.execute(f"select count(*) from requests r{where}", params).fetchone()[0]
            page_clauses, page_params = list(clauses), list(params)
            if after:
                created, row_id = decode_cursor(after, (str, str))
                page_clauses.append("(r.created, r.id) < (?, ?)")
                page_params += [created, row_id]
            page_where = (" where " + " and ".join(page_clauses)) if page_clauses else ""
            rows = db.query(
                f"select r.* from requests r{page_where} order by r.created desc, r.id desc limit ? offset ?",
                [*page_params, limit + 1, offset],
            )
            more = len(rows) > limit
            rows = rows[:limit]
            cursor = encode_cursor([rows[-1]["created"], rows[-1]["id"]]) if more and rows else None
            return total, self._items(rows, db), cursor

    def audit_item(self, request_id: str) -> dict | None:
        self.writer.flush()  # rows still queued belong in every answer
        with self.database.reading() as db:
            rows = db.query("select r.* from requests r where r.id = ?", [request_id])
            return self._items(rows, db)[0] if rows else None

    def queue(self, limit: int, offset: int = 0, after: str | None = None) -> tuple[int, list[dict], str | None]:
        """Unreviewed rows, most useful to review first (see PRIORITY_SQL): (total, items, next cursor).
        With the cursor, rows reviewed since the last page do not make the next one skip rows."""
        self.writer.flush()  # rows still queued belong in every answer
        with self.database.reading() as db:
            total = db.execute("select count(*) from requests where reviewed = 0").fetchone()[0]
            clause, params = "", []
            if after:
                priority, created, row_id = decode_cursor(after, ((int, float), str, str))
                clause = " and (r.priority, r.created, r.id) < (?, ?, ?)"
                params = [priority, created, row_id]
            rows = db.query(
                f"select r.* from requests r where r.reviewed = 0{clause}"
                " order by r.priority desc, r.created desc, r.id desc limit ? offset ?",
                [*params, limit + 1, offset],
            )
            more = len(rows) > limit
            rows = rows[:limit]
            cursor = encode_cursor([rows[-1]["priority"], rows[-1]["created"], rows[-1]["id"]]) if more and rows else None
            return total, self._items(rows, db), cursor

    def add_review(self, request_id: str, intents: list[str], psychology: str | None, reviewer: str, comment: str | None) -> dict:
        return self.add_reviews([request_id], intents, psychology, reviewer, comment)[0]

    def add_reviews(
        self, request_ids: list[str], intents: list[str], psychology: str | None, reviewer: str, comment: str | None
    ) -> list[dict]:
        """The same review of several rows (identical messages confirmed at once), in one transaction."""
        self.writer.flush()  # rows still queued belong in every answer
        stamp = now()
        out = []
        with self.database.writing() as db:
            for request_id in sorted(set(request_ids)):  # locked in one order: concurrent reviews never deadlock
                if not db.lock_row("requests", request_id):
                    raise NotFound(f"unknown request id {request_id!r} (its audit row is gone: purged)")
            for request_id in request_ids:
                row = {
                    "created": stamp,
                    "request_id": request_id,
                    "reviewer": mask_pii(reviewer),
                    "intent": intents[0],
                    "intents": json.dumps(intents),
                    "psychology": psychology,
                    "comment": mask_pii(comment) if comment else None,
                }
                review_id = db.insert("reviews", row)
                db.execute("update requests set reviewed = 1 where id = ?", [request_id])
                out.append({"id": review_id, **{k: v for k, v in row.items() if k != "intent"}, "intents": intents})
        return out

    def existing(self, request_ids: list[str]) -> set[str]:
        self.writer.flush()
        marks = ",".join("?" * len(request_ids))
        with self.database.reading() as db:
            return {r["id"] for r in db.query(f"select id from requests where id in ({marks})", request_ids)}

    def reviews_of(self, request_id: str) -> list[dict]:
        self.writer.flush()  # rows still queued belong in every answer
        with self.database.reading() as db:
            return [
                {k: v for k, v in r.items() if k not in ("intent", "request_id")} | {"intents": json.loads(r["intents"])}
                for r in db.query("select * from reviews where request_id = ? order by id", [request_id])
            ]

    def reviewed(self, since: str | None, until: str | None, batch: int = 5000) -> Iterator[list[dict]]:
        """Reviewed rows with their latest review, oldest first, in batches (the export streams
        them): the row's own columns that say what was predicted, and `review`. Each batch is one query
        by the (reviewed, created) index, so the cost follows the rows read, not the table."""
        self.writer.flush()  # rows still queued belong in every answer
        clauses, params = self._where(AuditFilters(since=since, until=until, reviewed=True))
        last: tuple[str, str] | None = None
        while True:
            page = list(clauses)
            page_params = list(params)
            if last:
                page.append("(r.created, r.id) > (?, ?)")
                page_params += list(last)
            # A streamed answer, once started, is let finish (the timeout middleware): its later batches do
            # not carry the request's deadline.
            token = DEADLINE.set(None)
            try:
                with self.database.reading() as db:
                    rows = db.execute(
                        "select r.id, r.created, r.endpoint, r.message, r.intent, r.confidence, r.psychology, r.model_version,"
                        " v.id, v.created, v.reviewer, v.intents, v.psychology, v.comment"
                        f" from requests r join reviews v on v.request_id = r.id and {self._IS_LATEST}"
                        f" where {' and '.join(page)} order by r.created, r.id limit ?",
                        [*page_params, batch],
                    ).fetchall()
            finally:
                DEADLINE.reset(token)
            if not rows:
                return
            yield [
                {
                    "id": rid, "created": created, "endpoint": endpoint, "message": message, "intent": intent,
                    "confidence": confidence, "psychology": psychology, "model_version": version,
                    "review": {"id": vid, "created": vcreated, "reviewer": reviewer, "intents": json.loads(intents),
                               "psychology": vpsychology, "comment": comment},
                }
                for (rid, created, endpoint, message, intent, confidence, psychology, version,
                     vid, vcreated, reviewer, intents, vpsychology, comment) in rows
            ]
            last = (rows[-1][1], rows[-1][0])

    def review_outcomes(self, since: str | None, until: str | None) -> list[tuple[str, float | None, list[str]]]:
        """(predicted intent, its confidence, the latest review's intents) for every reviewed row: what
        the report scores, read in one query."""
        self.writer.flush()
        clauses, params = self._where(AuditFilters(since=since, until=until, reviewed=True))
        with self.database.reading() as db:
            rows = db.execute(
                f"select r.intent, r.confidence, v.intents from requests r join reviews v on v.request_id = r.id and {self._IS_LATEST}"
                f" where {' and '.join(clauses)}",
                params,
            ).fetchall()
        return [(intent, confidence, json.loads(intents)) for intent, confidence, intents in rows]

    # --- what the reports count (daily rollups, kept as rows are written) ------------------------------

    def _days(self, since: str | None, until: str | None) -> tuple[str, list]:
        clauses, params = [], []
        if since:
            clauses.append("day >= ?")
            params.append(since[:10])
        if until:
            clauses.append("day < ?")
            params.append(until[:10])
        return ((" where " + " and ".join(clauses)) if clauses else ""), params

    def histogram(self, since: str | None, until: str | None) -> list[int]:
        """Requests per top-intent confidence bin (HISTOGRAM_BINS of them)."""
        self.writer.flush()
        where, params = self._days(since, until)
        counts = [0] * HISTOGRAM_BINS
        with self.database.reading() as db:
            for b, n in db.execute(f"select bin, sum(requests) from requests_daily{where} group by bin", params).fetchall():
                counts[b] += n
        return counts

    def adoption(self, since: str | None, until: str | None) -> dict:
        """The counts behind the report: `requests` (every endpoint), `suggested` (suggest requests per
        intent), `shown` (per reply id), `reply_actions` ({(reply, action): n}) and `intent_actions`
        ({(intent, action): n}), each (request, reply, action) counted once: three clicks on one
        suggestion are one click."""
        self.writer.flush()
        where, params = self._days(since, until)
        with self.database.reading() as db:
            suggest_where = f"{where} {'and' if where else 'where'} endpoint = 'suggest'"
            return {
                "requests": db.execute(f"select coalesce(sum(requests), 0) from requests_daily{where}", params).fetchone()[0],
                "suggested": dict(db.execute(f"select intent, sum(requests) from requests_daily{suggest_where} group by intent", params).fetchall()),
                "shown": dict(db.execute(f"select reply_id, sum(shown) from reply_shown{where} group by reply_id", params).fetchall()),
                "reply_actions": {
                    (reply, action): n
                    for reply, action, n in db.execute(
                        f"select reply_id, action, sum(requests) from feedback_daily{where} group by reply_id, action", params
                    ).fetchall()
                },
                "intent_actions": {
                    (intent, action): n
                    for intent, action, n in db.execute(
                        f"select intent, action, sum(requests) from feedback_daily{where} group by intent, action", params
                    ).fetchall()
                },
            }
