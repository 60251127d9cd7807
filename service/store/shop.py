"""The shop's knowledge as stored: profile, products, size charts and the shop's replies, with a log of who
changed what and when. Every import is one transaction: a bad file changes nothing."""

from __future__ import annotations

import json

from service.store.db import Database, now


class ShopRecords:
    def __init__(self, database: Database):
        self.database = database

    @property
    def _db(self):
        return self.database.db

    def _log(self, actor: str, kind: str, target: str, action: str, detail: dict | None = None) -> None:
        self._db["shop_changes"].insert({
            "created": now(), "actor": actor, "kind": kind, "target": target, "action": action,
            "detail": json.dumps(detail or {}, ensure_ascii=False),
        })

    def load(self) -> tuple[dict | None, list[dict], dict[str, list[dict]]]:
        """(profile sections or None, product records, chart id → rows)."""
        with self.database.reading():
            row = next(iter(self._db.query("select record from shop_profile where id = 1")), None)
            products = [json.loads(r["record"]) for r in self._db.query("select record from products order by id")]
            charts = {r["id"]: json.loads(r["record"]) for r in self._db.query("select id, record from size_charts order by id")}
        return (json.loads(row["record"]) if row else None), products, charts

    def save(self, actor: str, profile: dict | None = None, products: list[dict] = (), charts: dict[str, str] | None = None,
             replace: bool = False) -> None:
        """Store what is given in one transaction (`charts`: id → CSV text); log each change. `replace`: the
        products and charts given are all there are (the others are deleted)."""
        stamp = now()
        with self.database.writing():
            if profile is not None:
                self._db["shop_profile"].upsert({"id": 1, "record": json.dumps(profile, ensure_ascii=False), "updated": stamp, "actor": actor}, pk="id")
                self._log(actor, "profile", "profile", "set", profile)
            if replace:
                keep = {p["id"] for p in products}
                for product_id in [r["id"] for r in self._db.query("select id from products")]:
                    if product_id not in keep:
                        self._db["products"].delete(product_id)
                        self._log(actor, "product", product_id, "delete")
                for chart_id in [r["id"] for r in self._db.query("select id from size_charts")]:
                    if chart_id not in (charts or {}):
                        self._db["size_charts"].delete(chart_id)
                        self._log(actor, "size_chart", chart_id, "delete")
            for record in products:
                existed = self._db["products"].count_where("id = ?", [record["id"]]) > 0
                self._db["products"].upsert({"id": record["id"], "record": json.dumps(record, ensure_ascii=False), "updated": stamp, "actor": actor}, pk="id")
                self._log(actor, "product", record["id"], "update" if existed else "add")
            for chart_id, text in (charts or {}).items():
                self._db["size_charts"].upsert({"id": chart_id, "record": json.dumps(text, ensure_ascii=False), "updated": stamp, "actor": actor}, pk="id")
                self._log(actor, "size_chart", chart_id, "set")

    def delete_product(self, actor: str, product_id: str) -> bool:
        with self.database.writing():
            if not self._db["products"].count_where("id = ?", [product_id]):
                return False
            self._db["products"].delete(product_id)
            self._log(actor, "product", product_id, "delete")
            return True

    def delete_chart(self, actor: str, chart_id: str) -> bool:
        with self.database.writing():
            if not self._db["size_charts"].count_where("id = ?", [chart_id]):
                return False
            self._db["size_charts"].delete(chart_id)
            self._log(actor, "size_chart", chart_id, "delete")
            return True

    # --- the shop's own replies ---------------------------------------------------------------------

    def add_reply(self, actor: str, record: dict) -> None:
        with self.database.writing():
            if self._db["shop_replies"].count_where("id = ?", [record["id"]]):
                # a retired reply keeps its id (the audit log names it): a new one needs another
                raise KeyError(record["id"])
            stamp = now()
            self._db["shop_replies"].insert({
                "id": record["id"], "created": stamp, "updated": stamp, "actor": actor,
                "record": json.dumps(record, ensure_ascii=False),
            })
            self._log(actor, "reply", record["id"], "add", record)

    def update_reply(self, actor: str, record: dict) -> None:
        with self.database.writing():
            before = next(iter(self._db.query("select record from shop_replies where id = ? and retired is null", [record["id"]])), None)
            self._db["shop_replies"].update(record["id"], {"record": json.dumps(record, ensure_ascii=False), "updated": now(), "actor": actor})
            self._log(actor, "reply", record["id"], "update", {"before": json.loads(before["record"]) if before else None, "after": record})

    def retire_reply(self, actor: str, reply_id: str) -> None:
        with self.database.writing():
            stamp = now()
            self._db["shop_replies"].update(reply_id, {"retired": stamp, "updated": stamp, "actor": actor})
            self._log(actor, "reply", reply_id, "retire")

    def replies(self, include_retired: bool = False) -> list[dict]:
        """The shop's replies (records as added or last edited), oldest first; with who changed each last."""
        where = "" if include_retired else " where retired is null"
        with self.database.reading():
            rows = list(self._db.query(f"select * from shop_replies{where} order by created, id"))
        return [{**json.loads(r["record"]), "_created": r["created"], "_updated": r["updated"] or r["created"],
                 "_actor": r["actor"], "_retired": r["retired"]} for r in rows]

    def reply_records(self) -> list[dict]:
        """The shop's replies in use, as they were written (what start-up indexes)."""
        return [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.replies()]

    def version(self) -> int:
        """The last change's number: a shop changed elsewhere (the CLI, another replica) shows as a new one."""
        with self.database.reading():
            row = next(iter(self._db.query("select max(id) as id from shop_changes")), None)
        return int(row["id"] or 0) if row else 0

    def changes(self, kind: str | None = None, target: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        clauses, params = [], []
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        if target:
            clauses.append("target = ?")
            params.append(target)
        where = f" where {' and '.join(clauses)}" if clauses else ""
        with self.database.reading():
            rows = list(self._db.query(f"select * from shop_changes{where} order by id desc limit ? offset ?", [*params, limit, offset]))
        return [{**r, "detail": json.loads(r["detail"] or "{}")} for r in rows]
