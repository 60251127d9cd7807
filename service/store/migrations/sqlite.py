"""The SQLite file's migrations (sqlite-utils `Migrations`): m001 to m008 built the schema a step at a time;
each is applied once, in order, when a process opens the file. PostgreSQL has its own set (`postgres.py`)
ending in the same tables."""

from __future__ import annotations

import json

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


# The queue's priority and the histogram's bins as m007 computed them (the store's current ones live in
# service/store/db.py; a migration keeps what it did).
_PRIORITY_SQL = (
    "round((1 - coalesce(r.confidence, 0)) + (1 - coalesce(r.margin, 0))"
    " + exists (select 1 from feedback f where f.request_id = r.id and f.action != 'dismissed' and f.intent != r.intent)"
    " + 0.5 * exists (select 1 from feedback f where f.request_id = r.id and f.action = 'dismissed'), 4)"
)
_HISTOGRAM_BINS = 10


@migrations()
def m007_audit_at_scale(db: sqlite_utils.Database) -> None:
    # Pages and the review queue whose cost grows with the page, not the table: the queue's priority and
    # the review state kept in the row and indexed; feedback found by its request; daily counts for the
    # reports. And what QA reads beside the ids: the conversation before the row, the replies' texts,
    # the draft check's findings on what the agent sent, an idempotency key making a retried feedback safe.
    db["feedback"].create_index(["request_id"])
    db["feedback"].add_column("idempotency_key", str)
    db["feedback"].add_column("findings", str)
    db.execute("create unique index feedback_idempotency on feedback(idempotency_key) where idempotency_key is not null")
    for column, kind in (("priority", float), ("reviewed", int), ("history", str), ("reply_texts", str)):
        db["requests"].add_column(column, kind)
    db.execute("update requests set reviewed = exists (select 1 from reviews v where v.request_id = requests.id)")
    db.execute(f"update requests set priority = (select {_PRIORITY_SQL} from requests r where r.id = requests.id)")
    db.execute("create index requests_queue on requests(reviewed, priority desc, created desc, id desc)")
    db.execute("create index requests_reviewed on requests(reviewed, created)")
    db.execute("create index requests_created_id on requests(created desc, id desc)")
    db["requests_daily"].create(
        {"day": str, "endpoint": str, "intent": str, "bin": int, "requests": int}, pk=("day", "endpoint", "intent", "bin")
    )
    db["reply_shown"].create({"day": str, "intent": str, "reply_id": str, "shown": int}, pk=("day", "intent", "reply_id"))
    db.execute(
        "insert into requests_daily select substr(created, 1, 10), coalesce(endpoint, 'suggest'), intent,"
        f" min(cast(coalesce(confidence, 0) * {_HISTOGRAM_BINS} as integer), {_HISTOGRAM_BINS - 1}), count(*)"
        " from requests group by 1, 2, 3, 4"
    )
    db.execute(
        "insert into reply_shown select substr(r.created, 1, 10), r.intent, j.value, count(*)"
        " from requests r, json_each(r.replies) j where coalesce(r.endpoint, 'suggest') = 'suggest' group by 1, 2, 3"
    )


@migrations()
def m008_feedback_rollup(db: sqlite_utils.Database) -> None:
    # The agents' actions per day (of the request), intent, reply and action, each (request, reply, action)
    # counted once, kept as feedback is written: the adoption report reads these, not every feedback row.
    db["feedback_daily"].create(
        {"day": str, "intent": str, "reply_id": str, "action": str, "requests": int}, pk=("day", "intent", "reply_id", "action")
    )
    db.execute(
        "insert into feedback_daily select substr(r.created, 1, 10), r.intent, f.reply_id, f.action, count(distinct f.request_id)"
        " from feedback f join requests r on r.id = f.request_id where coalesce(r.endpoint, 'suggest') = 'suggest'"
        " group by 1, 2, 3, 4"
    )
