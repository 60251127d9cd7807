"""What QA leads read and write: the audit log filtered and paged, the review queue, reviews, the rows
behind reports and exports, and the retention purge."""

from __future__ import annotations

import json
from dataclasses import dataclass

from intents.normalize import mask_pii
from service.store.audit import AuditWriter
from service.store.db import Database, now


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


class QaQueries:
    """Reads of the audit log flush the audit writer first: rows still queued belong in every answer."""

    def __init__(self, database: Database, audit: AuditWriter):
        self.database = database
        self.writer = audit

    @property
    def _db(self):
        return self.database.db

    def purge(self, before: str, dry_run: bool = False) -> dict[str, int]:
        """Delete audit rows created before `before` (an ISO date, UTC) with the feedback and reviews
        that point at them, in one transaction; returns the counts. Shop replies are kept."""
        self.writer.flush()
        old = "select id from requests where created < ?"
        counts = {}
        with self.database.lock, self._db.conn:
            for table, where in (("feedback", f"request_id in ({old})"), ("reviews", f"request_id in ({old})"), ("requests", "created < ?")):
                counts[table] = self._db.execute(f"select count(*) from {table} where {where}", [before]).fetchone()[0]
                if not dry_run:
                    self._db.execute(f"delete from {table} where {where}", [before])
        return counts

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
            for r in self._db.query(f"select * from {self._LATEST_REVIEW} where request_id in ({marks})", ids)
        }
        actions: dict[str, dict[str, list[str]]] = {}
        for f in self._db.query(f"select request_id, reply_id, action from feedback where request_id in ({marks}) order by id", ids):
            chosen = actions.setdefault(f["request_id"], {"clicked": [], "sent": [], "edited": [], "dismissed": []})
            if f["reply_id"] not in chosen[f["action"]]:
                chosen[f["action"]].append(f["reply_id"])
        items = []
        for row in rows:
            review = reviews.get(row["id"])
            items.append(
                {
                    **{k: v for k, v in row.items() if k not in ("unmasked_message", "handoff", "escalate", "tokens", "intents", "replies")},
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
        self.writer.flush()  # rows still queued belong in every answer
        where, params = self._where(filters)
        with self.database.lock:
            total = self._db.execute(f"select count(*) from requests r{where}", params).fetchone()[0]
            rows = list(
                self._db.query(f"select r.* from requests r{where} order by r.created desc, r.id limit ? offset ?", [*params, limit, offset])
            )
            return total, self._items(rows)

    def audit_item(self, request_id: str) -> dict | None:
        self.writer.flush()  # rows still queued belong in every answer
        with self.database.lock:
            rows = list(self._db.query("select r.* from requests r where r.id = ?", [request_id]))
            return self._items(rows)[0] if rows else None

    def queue(self, limit: int, offset: int) -> tuple[int, list[dict]]:
        """Unreviewed rows, most useful to review first: low confidence, a narrow top-2 margin, and
        agents' choices that disagree with the predicted intent (a reply for another intent used,
        or the suggestions dismissed)."""
        self.writer.flush()  # rows still queued belong in every answer
        priority = (
            "round((1 - coalesce(r.confidence, 0)) + (1 - coalesce(r.margin, 0))"
            " + exists (select 1 from feedback f where f.request_id = r.id and f.action != 'dismissed' and f.intent != r.intent)"
            " + 0.5 * exists (select 1 from feedback f where f.request_id = r.id and f.action = 'dismissed'), 4)"
        )
        unreviewed = "not exists (select 1 from reviews x where x.request_id = r.id)"
        with self.database.lock:
            total = self._db.execute(f"select count(*) from requests r where {unreviewed}").fetchone()[0]
            rows = list(
                self._db.query(
                    f"select r.*, {priority} as priority from requests r where {unreviewed}"
                    " order by priority desc, r.created desc limit ? offset ?",
                    [limit, offset],
                )
            )
            return total, self._items(rows)

    def add_review(self, request_id: str, intents: list[str], psychology: str | None, reviewer: str, comment: str | None) -> dict:
        self.writer.flush()  # rows still queued belong in every answer
        row = {
            "created": now(),
            "request_id": request_id,
            "reviewer": reviewer,
            "intent": intents[0],
            "intents": json.dumps(intents),
            "psychology": psychology,
            "comment": mask_pii(comment) if comment else None,
        }
        with self.database.lock, self._db.conn:
            review_id = self._db["reviews"].insert(row).last_pk
        return {"id": review_id, **{k: v for k, v in row.items() if k != "intent"}, "intents": intents}

    def reviews_of(self, request_id: str) -> list[dict]:
        self.writer.flush()  # rows still queued belong in every answer
        with self.database.lock:
            return [
                {k: v for k, v in r.items() if k not in ("intent", "request_id")} | {"intents": json.loads(r["intents"])}
                for r in self._db.query("select * from reviews where request_id = ? order by id", [request_id])
            ]

    def reviewed(self, since: str | None, until: str | None) -> list[dict]:
        """Reviewed rows with their latest review, oldest first (reports and export)."""
        self.writer.flush()  # rows still queued belong in every answer
        filters = AuditFilters(since=since, until=until, reviewed=True)
        where, params = self._where(filters)
        with self.database.lock:
            rows = list(self._db.query(f"select r.* from requests r{where} order by r.created, r.id", params))
            return self._items(rows)

    def confidences(self, since: str | None, until: str | None) -> list[float]:
        self.writer.flush()  # rows still queued belong in every answer
        where, params = self._where(AuditFilters(since=since, until=until))
        with self.database.lock:
            return [row[0] for row in self._db.execute(f"select coalesce(r.confidence, 0) from requests r{where}", params).fetchall()]

    def adoption(self, since: str | None, until: str | None) -> tuple[list[dict], list[dict]]:
        """Suggest requests (intent, replies shown) and the feedback on them within the dates."""
        self.writer.flush()  # rows still queued belong in every answer
        where, params = self._where(AuditFilters(since=since, until=until, endpoint="suggest"))
        with self.database.lock:
            requests = list(self._db.query(f"select r.id, r.intent, r.replies from requests r{where}", params))
            feedback = list(
                self._db.query(
                    f"select f.request_id, f.reply_id, f.action from feedback f join requests r on r.id = f.request_id{where}", params
                )
            )
        return requests, feedback
