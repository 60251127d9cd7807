"""The store's database behind one interface on two backends: the SQLite file (sqlite-utils; the embedded
default, `HUASHU_DB_PATH`), here, and PostgreSQL (`postgres.py`; shared by several replicas,
`HUASHU_DATABASE_URL`). Each has its own versioned migrations (`migrations/`) ending in the same tables; the
store's modules write their SQL once and speak to either through a `Connection`."""

from __future__ import annotations

import contextvars
import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import sqlite_utils

from service.errors import Conflict, StoreUnavailable, TimedOut
from service.store.migrations.sqlite import migrations

log = logging.getLogger("huashu")


def now() -> str:
    """The current UTC time as stored: ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# How useful reviewing a row is: low confidence, a narrow top-2 margin, agents using another intent's reply,
# agents dismissing the suggestions. Kept in the row (updated by feedback) so the queue reads an index.
# Written for both backends: PostgreSQL's exists() is no number and its round() takes no float.
PRIORITY_SQL = (
    "cast(round(cast((1 - coalesce(r.confidence, 0)) + (1 - coalesce(r.margin, 0))"
    " + case when exists (select 1 from feedback f where f.request_id = r.id and f.action != 'dismissed' and f.intent != r.intent)"
    " then 1 else 0 end"
    " + case when exists (select 1 from feedback f where f.request_id = r.id and f.action = 'dismissed') then 0.5 else 0 end"
    " as numeric), 4) as double precision)"
)
HISTOGRAM_BINS = 10


class StoreError(Exception):
    """The database cannot be opened: the message names it and its setting (HUASHU_DB_PATH or HUASHU_DATABASE_URL)."""


# The current request's deadline (time.monotonic()), set by the timeout middleware: a query still running
# past it is interrupted, so abandoned work does not keep a core busy.
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("huashu_deadline", default=None)


def _past_deadline() -> int:
    deadline = DEADLINE.get()
    return int(deadline is not None and time.monotonic() > deadline)


class Connection:
    """One transaction's connection as the store's modules use it, the same on both backends: SQL with `?`
    parameters, rows as tuples (`execute(...).fetchall()`) or dicts (`query`), and the few statements whose
    SQL differs between them (an insert returning its new id, an upsert, locks)."""

    def __init__(self, raw: Any):
        self.raw = raw

    def execute(self, sql: str, params: Sequence = ()):
        """Run one statement; the DB-API cursor (fetchone, fetchall, rowcount)."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        raise NotImplementedError

    def insert(self, table: str, row: dict, unique: str | None = None) -> Any:
        """Insert one row; its generated id. With `unique` (an ON CONFLICT target as written after the
        words, e.g. "(key) where key is not null"), a row that would break that unique index is not inserted
        and None is returned."""
        raise NotImplementedError

    def insert_all(self, table: str, rows: list[dict]) -> None:
        """Insert rows that all have the same keys."""
        if rows:
            columns = list(rows[0])
            self.executemany(insert_sql(table, columns), [[row[c] for c in columns] for row in rows])

    def upsert(self, table: str, row: dict, pk: str = "id") -> None:
        """Insert the row, or update the one with the same primary key."""
        columns = list(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != pk)
        self.execute(f"{insert_sql(table, columns)} on conflict ({pk}) do update set {updates}", [row[c] for c in columns])

    def lock_row(self, table: str, key: Any) -> bool:
        """Hold the row with this id until the transaction ends (SQLite: one writer at a time already); whether
        it exists (a route's earlier look-up does not say it still does: a purge may have come between)."""
        return self.execute(f"select 1 from {table} where id = ?", [key]).fetchone() is not None

    def serialize(self, name: str) -> None:
        """Let one transaction at a time, of those naming `name`, past this point until it ends (SQLite: one
        writer at a time already)."""


def insert_sql(table: str, columns: list[str]) -> str:
    return f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"


class SqliteConnection(Connection):
    def __init__(self, db: sqlite_utils.Database):
        super().__init__(db)
        self.db = db

    def execute(self, sql: str, params: Sequence = ()):
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        self.db.conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        return list(self.db.query(sql, params))

    def insert(self, table: str, row: dict, unique: str | None = None) -> Any:
        columns = list(row)
        conflict = f" on conflict {unique} do nothing" if unique else ""
        cursor = self.db.execute(insert_sql(table, columns) + conflict, [row[c] for c in columns])
        return None if cursor.rowcount == 0 else cursor.lastrowid


class BaseDatabase:
    """What both backends share: whether the store takes writes is part of its state. A write that fails
    (read-only, disk full, the server gone) marks the store unavailable, logged once, until a probe or a
    write succeeds again."""

    where = ""  # the database and its setting, for messages
    like = "like"  # the operator of a case-insensitive match (ASCII case, as SQLite's LIKE ignores it)
    # How long a write transaction may hold its new ids before committing, as the feedback follower counts
    # on it (records.FeedbackCursor): SQLite writes one transaction at a time, so ids commit in order.
    late_commit_s = 0.0
    Error: type[Exception] = Exception  # the driver's base error

    def __init__(self) -> None:
        self.failure: str | None = None  # why writes fail now, or None
        self._probed = 0.0
        # called when the store turns unavailable or takes writes again (the audit log's metrics): a request
        # refused for it writes no audit row that would tell them
        self.listeners: list[Callable[[], None]] = []

    def _write_probe(self) -> str | None:
        """None when the database takes writes, else why not."""
        raise NotImplementedError

    def failed(self, reason: str) -> None:
        """Writes fail: say so once, when the store turns unavailable (not at every retry)."""
        if self.failure is None:
            log.error("the store %s cannot be written, requests needing it answer 503 until it can: %s", self.where, reason)
        elif self.failure != reason:
            log.debug("the store still cannot be written: %s", reason)
        changed, self.failure = self.failure is None, reason
        if changed:
            self._tell()

    def recovered(self) -> None:
        if self.failure is not None:
            log.warning("the store takes writes again")
            self.failure = None
            self._tell()

    def _tell(self) -> None:
        for listener in self.listeners:
            listener()

    def probe(self, every: float = 1.0) -> str | None:
        """While writes fail, try again (at most once per `every` seconds): the store recovers by itself once
        the database takes writes again. Returns the failure, or None."""
        if self.failure is None:
            return None
        now_ = time.monotonic()
        if now_ - self._probed >= every:
            self._probed = now_
            failure = self._write_probe()
            if failure:
                self.failed(failure)
            else:
                self.recovered()
        return self.failure

    def reading(self):  # pragma: no cover - each backend's own
        raise NotImplementedError

    def writing(self):  # pragma: no cover - each backend's own
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - each backend's own
        raise NotImplementedError


class Database(BaseDatabase):
    """The SQLite file: one connection per process, serialised by a lock; WAL and a busy timeout let several
    worker processes share the file (on one machine: never over a network file system)."""

    Error = sqlite3.Error

    def __init__(self, path: Path, lock_timeout: float = 5.0):
        super().__init__()
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.where = f"{self.path} (HUASHU_DB_PATH)"
        if self.path.is_dir():
            raise StoreError(f"{self.where} is a directory; give the path of a SQLite file (it is created if missing)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.where} cannot be opened: {exc}") from None
        conn.set_progress_handler(_past_deadline, 20_000)
        self.db = sqlite_utils.Database(conn)
        self.connection = SqliteConnection(self.db)
        self.lock = threading.RLock()
        try:
            with self.lock:
                self._prepare()
        except sqlite3.DatabaseError as exc:
            conn.close()
            if "readonly" in str(exc) or "read-only" in str(exc):
                raise StoreError(f"{self.where} is read-only and needs its tables created or updated: {exc}") from None
            raise StoreError(f"{self.where} is not a usable SQLite database ({exc}); the file was left as it is") from None
        failure = self._write_probe()
        if failure:
            self.failed(failure)

    def _write_probe(self) -> str | None:
        """None when the file takes writes, else why not (a read-only file or file system)."""
        try:
            with self.lock:
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                self.db.execute(f"PRAGMA user_version = {int(version)}")
        except sqlite3.Error as exc:
            return str(exc)
        return None

    def _prepare(self, patience: float = 30.0) -> None:
        """WAL mode and the migrations. Worker processes opening a new file together race for it:
        switching to WAL can fail at once with 'database is locked' (SQLite does not wait for that
        one), and the migrations' check-then-create steps need SQLite's write lock. Both are retried
        until `patience` runs out."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA busy_timeout=10000")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.db.conn.execute("BEGIN IMMEDIATE")
                try:
                    migrations.apply(self.db)
                except BaseException:
                    self.db.conn.rollback()
                    raise
                self.db.conn.commit()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def writing(self) -> Iterator[SqliteConnection]:
        """One write transaction, or StoreUnavailable (503) with nothing written: the lock not free within
        `lock_timeout`, or the file refusing the write (read-only, full); Conflict (409) with nothing written
        when it breaks a unique or foreign key. A write that commits is never interrupted by the request's
        deadline: it is answered."""
        if not self.lock.acquire(timeout=self.lock_timeout):
            raise StoreUnavailable(f"the store is busy (waited {self.lock_timeout:g} s); nothing was written, retry")
        token = DEADLINE.set(None)
        try:
            conn = self.db.conn
            if conn.in_transaction:  # a write inside another on this thread (the lock is re-entrant): part of it
                yield self.connection
                return
            try:
                with conn:
                    # Opened here: sqlite-utils commits each write statement by itself unless a transaction is open,
                    # which left a write that failed half-way half-written.
                    conn.execute("BEGIN IMMEDIATE")
                    yield self.connection
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"the write conflicts with a row already stored ({exc}); nothing was written") from None
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreUnavailable(f"the store is busy ({exc}); nothing was written, retry") from None
                self.failed(str(exc))
                raise StoreUnavailable(f"the store cannot be written ({exc}); nothing was written") from None
            self.recovered()
        finally:
            DEADLINE.reset(token)
            self.lock.release()

    @contextmanager
    def reading(self) -> Iterator[SqliteConnection]:
        """The connection for reads, under the lock; a query past the request's deadline is stopped (504)."""
        with self.lock:
            try:
                yield self.connection
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    raise TimedOut("the query ran past the request's deadline and was stopped") from None
                raise

    def close(self) -> None:
        """Close the connection once no other thread is using it (closing it under a running query crashes
        SQLite's C library); a later use raises sqlite3.ProgrammingError."""
        with self.lock:
            self.db.conn.close()


def open_database(location: Path | str, pool_size: int = 4) -> BaseDatabase:
    """The database at `location`: a PostgreSQL URL (`postgresql://…`, HUASHU_DATABASE_URL) or the path of a
    SQLite file (HUASHU_DB_PATH). Raises StoreError naming it when it cannot be opened."""
    if isinstance(location, str) and "://" in location:
        from service.store.postgres import PostgresDatabase  # psycopg loads only for PostgreSQL

        return PostgresDatabase(location, pool_size=pool_size)
    return Database(Path(location))


def check_database(location: Path | str, pool_size: int = 1) -> None:
    """Open the database once (creating or updating its tables) and close it: a bad path, file or URL raises
    StoreError naming it, before anything else starts."""
    open_database(location, pool_size=pool_size).close()
