"""What is kept: the database (`db`: the SQLite file by default, or PostgreSQL shared by replicas,
`postgres`), the audit writer (`audit`), agents' and admins' records (`records`: feedback), the QA queries
(`qa`) and the shop's knowledge (`shop`: profile, products, size charts, the shop's replies, with a log of
changes). One `Store` per process opens them together."""

from __future__ import annotations

from pathlib import Path

from service.store.audit import AuditEntry, AuditWriter
from service.store.db import open_database
from service.store.qa import AuditFilters, QaQueries
from service.store.records import Records
from service.store.shop import ShopRecords

__all__ = ["AuditEntry", "AuditFilters", "Store"]


class Store:
    """`location`: the path of a SQLite file, or a PostgreSQL URL (`postgresql://…`)."""

    def __init__(self, location: Path | str, flush_interval: float = 0.0, store_raw: bool = False, pool_size: int = 4):
        self.database = open_database(location, pool_size=pool_size)
        self.audit = AuditWriter(self.database, flush_interval, store_raw)
        self.records = Records(self.database, self.audit)
        self.qa = QaQueries(self.database, self.audit)
        self.shop = ShopRecords(self.database)

    @classmethod
    def open(cls, settings, background_writer: bool = True) -> "Store":
        """The store the settings name (HUASHU_DATABASE_URL, else HUASHU_DB_PATH). Without
        `background_writer` (the command line) each audit row is written at once."""
        return cls(
            settings.store_location, settings.audit_flush_s if background_writer else 0.0, settings.store_raw,
            settings.database_pool_size,
        )

    @property
    def path(self) -> Path | None:
        """The SQLite file (None with PostgreSQL)."""
        return self.database.path

    def close(self) -> None:
        """Commit the queued audit rows and close the database (a clean shutdown loses nothing)."""
        self.audit.close()
        self.database.close()
