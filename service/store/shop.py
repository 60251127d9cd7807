"""The shop's knowledge as stored: profile, products, size charts and the shop's replies, with a log of who
changed what and when. Every import is one transaction: a bad file changes nothing."""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

from service.store.db import BaseDatabase, Connection, now


class ShopRecords:
    """Every change is one transaction taking its turn (`serialize`): the change log's ids then commit in
    order, so `version()` rises with each change every replica can see."""

    def __init__(self, database: BaseDatabase):
        self.database = database

    @staticmethod
    def _log(db: Connection, actor: str, kind: str, target: str, action: str, detail: dict | None = None) -> None:
        db.insert("shop_changes", {
            "created": now(), "actor": actor, "kind": kind, "target": target, "action": action,
            "detail": json.dumps(detail or {}, ensure_ascii=False),
        })

    @contextmanager
    def _changing(self) -> Iterator[Connection]:
        with self.database.writing() as db:
            db.serialize("shop")
            yield db

    @staticmethod
    def _exists(db: Connection, table: str, key: str) -> bool:
        return db.execute(f"select 1 from {table} where id = ?", [key]).fetchone() is not None

    def load(self) -> tuple[dict | None, list[dict], dict[str, list[dict]]]:
        """(profile sections or None, product records, chart id → rows)."""
        with self.database.reading() as db:
            row = next(iter(db.query("select record from shop_profile where id = 1")), None)
            products = [json.loads(r["record"]) for r in db.query("select record from products order by id")]
            charts = {r["id"]: json.loads(r["record"]) for r in db.query("select id, record from size_charts order by id")}
        return (json.loads(row["record"]) if row else None), products, charts

    def save(self, actor: str, profile: dict | None = None, products: list[dict] = (), charts: dict[str, str] | None = None,
             replace: bool = False) -> None:
        """Store what is given in one transaction (`charts`: id → CSV text); log each change. `replace`: the
        products and charts given are all there are (the others are deleted)."""
        stamp = now()
        with self._changing() as db:
            if profile is not None:
                db.upsert("shop_profile", {"id": 1, "record": json.dumps(profile, ensure_ascii=False), "updated": stamp, "actor": actor})
                self._log(db, actor, "profile", "profile", "set", profile)
            if replace:
                keep = {p["id"] for p in products}
                for product_id in [r["id"] for r in db.query("select id from products order by id")]:
                    if product_id not in keep:
                        db.execute("delete from products where id = ?", [product_id])
                        self._log(db, actor, "product", product_id, "delete")
                for chart_id in [r["id"] for r in db.query("select id from size_charts order by id")]:
                    if chart_id not in (charts or {}):
                        db.execute("delete from size_charts where id = ?", [chart_id])
                        self._log(db, actor, "size_chart", chart_id, "delete")
            for record in products:
                existed = self._exists(db, "products", record["id"])
                db.upsert("products", {"id": record["id"], "record": json.dumps(record, ensure_ascii=False), "updated": stamp, "actor": actor})
                self._log(db, actor, "product", record["id"], "update" if existed else "add")
            for chart_id, text in (charts or {}).items():
                db.upsert("size_charts", {"id": chart_id, "record": json.dumps(text, ensure_ascii=False), "updated": stamp, "actor": actor})
                self._log(db, actor, "size_chart", chart_id, "set")

    def delete_product(self, actor: str, product_id: str) -> bool:
        with self._changing() as db:
            if not self._exists(db, "products", product_id):
                return False
            db.execute("delete from products where id = ?", [product_id])
            self._log(db, actor, "product", product_id, "delete")
            return True

    def delete_chart(self, actor: str, chart_id: str) -> bool:
        with self._changing() as db:
            if not self._exists(db, "size_charts", chart_id):
                return False
            db.execute("delete from size_charts where id = ?", [chart_id])
            self._log(db, actor, "size_chart", chart_id, "delete")
            return True

    # --- the shop's own replies ---------------------------------------------------------------------

    def add_reply(self, actor: str, record: dict) -> None:
        with self._changing() as db:
            if self._exists(db, "shop_replies", record["id"]):
                # a retired reply keeps its id (the audit log names it): a new one needs another
                raise KeyError(record["id"])
            stamp = now()
            db.insert("shop_replies", {
                "id": record["id"], "created": stamp, "updated": stamp, "actor": actor,
                "record": json.dumps(record, ensure_ascii=False),
            })
            self._log(db, actor, "reply", record["id"], "add", record)

    def update_reply(self, actor: str, record: dict) -> None:
        with self._changing() as db:
            before = next(iter(db.query("select record from shop_replies where id = ? and retired is null", [record["id"]])), None)
            db.execute(
                "update shop_replies set record = ?, updated = ?, actor = ? where id = ?",
                [json.dumps(record, ensure_ascii=False), now(), actor, record["id"]],
            )
            self._log(db, actor, "reply", record["id"], "update", {"before": json.loads(before["record"]) if before else None, "after": record})

    def retire_reply(self, actor: str, reply_id: str) -> None:
        with self._changing() as db:
            stamp = now()
            db.execute("update shop_replies set retired = ?, updated = ?, actor = ? where id = ?", [stamp, stamp, actor, reply_id])
            self._log(db, actor, "reply", reply_id, "retire")

    def replies(self, include_retired: bool = False) -> list[dict]:
        """The shop's replies (records as added or last edited), oldest first; with who changed each last."""
        where = "" if include_retired else " where retired is null"
        with self.database.reading() as db:
            rows = db.query(f"select * from shop_replies{where} order by created, id")
        return [{**json.loads(r["record"]), "_created": r["created"], "_updated": r["updated"] or r["created"],
                 "_actor": r["actor"], "_retired": r["retired"]} for r in rows]

    def reply_records(self) -> list[dict]:
        """The shop's replies in use, as they were written (what start-up indexes)."""
        return [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.replies()]

    def version(self) -> int:
        """The last change's number: a shop changed elsewhere (the CLI, another replica) shows as a new one."""
        with self.database.reading() as db:
            row = db.execute("select max(id) from shop_changes").fetchone()
        return int(row[0] or 0) if row else 0

    def changes(self, kind: str | None = None, target: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        clauses, params = [], []
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        if target:
            clauses.append("target = ?")
            params.append(target)
        where = f" where {' and '.join(clauses)}" if clauses else ""
        with self.database.reading() as db:
            rows = db.query(f"select * from shop_changes{where} order by id desc limit ? offset ?", [*params, limit, offset])
        return [{**r, "detail": json.loads(r["detail"] or "{}")} for r in rows]
