"""What is kept: the SQLite file (`db`), the audit writer (`audit`), agents' and admins' records
(`records`: feedback), the QA queries (`qa`) and the shop's knowledge (`shop`: profile, products, size
charts, the shop's replies, with a log of changes). One `Store` per process opens them together."""

from __future__ import annotations

from pathlib import Path

from service.store.audit import AuditEntry, AuditWriter
from service.store.db import Database
from service.store.qa import AuditFilters, QaQueries
from service.store.records import Records
from service.store.shop import ShopRecords

__all__ = ["AuditEntry", "AuditFilters", "Store"]


class Store:
    def __init__(self, path: Path, flush_interval: float = 0.0, store_raw: bool = False):
        self.database = Database(path)
        self.audit = AuditWriter(self.database, flush_interval, store_raw)
        self.records = Records(self.database, self.audit)
        self.qa = QaQueries(self.database, self.audit)
        self.shop = ShopRecords(self.database)

    @property
    def path(self) -> Path:
        return self.database.path

    def close(self) -> None:
        """Commit the queued audit rows and close the file (a clean shutdown loses nothing)."""
        self.audit.close()
        self.database.close()
