"""What is kept: the SQLite file (`db`), the audit writer (`audit`), agents' and admins' records
(`records`: feedback, shop replies) and the QA queries (`qa`). One `Store` per process opens them together."""

from __future__ import annotations

from pathlib import Path

from service.store.audit import AuditEntry, AuditWriter
from service.store.db import Database
from service.store.qa import AuditFilters, QaQueries
from service.store.records import Records

__all__ = ["AuditEntry", "AuditFilters", "Store"]


class Store:
    def __init__(self, path: Path, flush_interval: float = 0.0, store_raw: bool = False):
        self.database = Database(path)
        self.audit = AuditWriter(self.database, flush_interval, store_raw)
        self.records = Records(self.database, self.audit)
        self.qa = QaQueries(self.database, self.audit)

    @property
    def path(self) -> Path:
        return self.database.path

    def close(self) -> None:
        """Commit the queued audit rows and close the file (a clean shutdown loses nothing)."""
        self.audit.close()
        self.database.close()
