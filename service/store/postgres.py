"""PostgreSQL as the store several replicas share (HUASHU_DATABASE_URL): psycopg 3 with a small connection pool
per process, the same interface as the SQLite file (`db.Database`), its own migrations.

Failures are the store's state, as with SQLite: a server that cannot be reached, refuses writes (read-only,
disk full) or drops the connection makes the request 503 with nothing written, is logged once, and is probed
about once a second until it answers again. A read past the request's deadline is cancelled by the server
(statement_timeout from the time left) and answered 504.

A server up but not answering (a hung host, a paused VM: its sockets open, nothing said) gives no error to
notice: a heartbeat (`select 1` every HEARTBEAT_S on a connection of its own) that has had no answer for
SILENT_AFTER_S makes the store unavailable, so that /readyz says so and new requests needing the store are
refused at once (503, nothing written) instead of waiting on it; it is available again once the heartbeat is
answered. A transaction already waiting when the server stopped answering waits until it answers or the
connection breaks: whether its commit was taken cannot be known before."""

from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator, Sequence

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from service.errors import Conflict, StoreUnavailable, TimedOut
from service.store.db import DEADLINE, BaseDatabase, Connection, StoreError, insert_sql
from service.store.migrations.postgres import migrate

log = logging.getLogger("huashu")

SETTING = "HUASHU_DATABASE_URL"
UNREACHABLE = "cannot be reached"
NOT_ANSWERING = "not answering"
HEARTBEAT_S = 1.0
SILENT_AFTER_S = 3.0
PROBE_WAIT_S = 3.0
# psycopg_pool logs every failed reconnection attempt as a warning; the store says it once itself.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

# pg_advisory_xact_lock keys of the transactions that take turns (Connection.serialize)
_SERIAL_KEYS = {"shop": 0x68756173687502}


def masked(url: str) -> str:
    """The URL as it may be shown: the password replaced by ***."""
    url = re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", url)


@lru_cache(maxsize=1024)
def _sql(statement: str) -> str:
    """`?` parameters as psycopg's %s (the store's SQL holds no literal ? or %)."""
    return statement.replace("%", "%%").replace("?", "%s")


def without_nul(values: Sequence) -> list:
    """`values` with every NUL character of their texts as U+FFFD. PostgreSQL's text cannot hold NUL (SQLite's
    can), and one in a value (a pasted id, a client's stray byte) was a database error, a 500. Replaced, a text
    keeps its length and shows where the character was, and an id holding it matches no real id: not found,
    as on SQLite."""
    return [v.replace("\x00", "\ufffd") if isinstance(v, str) and "\x00" in v else v for v in values]


class PostgresConnection(Connection):
    def execute(self, sql: str, params: Sequence = ()):
        return self.raw.execute(_sql(sql), without_nul(params))

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(_sql(sql), [without_nul(row) for row in rows])

    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        with self.raw.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(_sql(sql), without_nul(params)).fetchall()

    def insert(self, table: str, row: dict, unique: str | None = None) -> Any:
        columns = list(row)
        conflict = f" on conflict {unique} do nothing" if unique else ""
        found = self.execute(insert_sql(table, columns) + conflict + " returning id", [row[c] for c in columns]).fetchone()
        return found[0] if found else None

    def lock_row(self, table: str, key: Any) -> bool:
        return self.execute(f"select 1 from {table} where id = ? for no key update", [key]).fetchone() is not None

    def serialize(self, name: str) -> None:
        self.execute("select pg_advisory_xact_lock(?)", [_SERIAL_KEYS[name]])


# Errors that say the server is busy, not broken: the write is refused (503, nothing written) and may be retried.
_BUSY = (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
# Errors that say the store cannot take writes now: the server gone or refusing (read-only, disk full).
_FAILING = (psycopg.OperationalError, psycopg.InterfaceError, pg_errors.ReadOnlySqlTransaction, pg_errors.InsufficientResources)


class PostgresDatabase(BaseDatabase):
    """A PostgreSQL database through a pool of `pool_size` connections (psycopg_pool). Each transaction takes
    one connection; a store call nested inside another on the same thread reuses the outer one's."""

    Error = psycopg.Error
    like = "ilike"  # SQLite's LIKE ignores ASCII case; PostgreSQL's does not
    # A feedback row's id is taken when it is inserted, but another process's row with a lower id can commit
    # later: the follower keeps re-reading the ids of this last minute (records.FeedbackCursor). Writes wait
    # at most `lock_timeout` for a lock and a connection idle in a transaction is cut after 20 s, so a
    # transaction holds its ids well under this.
    late_commit_s = 60.0

    def __init__(self, url: str, pool_size: int = 4, lock_timeout: float = 5.0, connect_timeout: float = 5.0, setting: str = SETTING):
        super().__init__()
        self.url = url
        self.path = None
        self.lock_timeout = lock_timeout
        self.where = f"{masked(url)} ({setting})"  # where the URL came from: the setting, or a command's option
        self._password = ""
        self._local = threading.local()
        if url.split("://", 1)[0].lower() not in ("postgresql", "postgres"):
            raise StoreError(f"{self.where} is not a PostgreSQL URL: give postgresql://user:password@host:5432/database")
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"{self.where} is not a valid PostgreSQL URL: {self.say(exc)}") from None
        self._password = str(params.get("password") or "")
        self._probing: threading.Thread | None = None
        kwargs: dict[str, Any] = {"application_name": "huashu"}
        if "connect_timeout" not in params:
            kwargs["connect_timeout"] = max(1, round(connect_timeout))
        self._kwargs = kwargs
        try:
            with psycopg.connect(url, **kwargs) as conn:
                applied = migrate(conn)
        except psycopg.OperationalError as exc:
            raise StoreError(f"{self.where} cannot be reached: {self.say(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: its tables could not be created or updated: {self.say(exc)}") from None
        if applied:
            log.info("the store %s: migrations %s applied", masked(url), applied)
        self.pool = ConnectionPool(
            url, kwargs=kwargs, min_size=pool_size, max_size=pool_size, timeout=lock_timeout, open=False,
            configure=self._configure, name="huashu", max_idle=600,
        )
        try:
            self.pool.open(wait=True, timeout=max(10.0, connect_timeout * 2))
        except PoolTimeout as exc:
            self.pool.close()
            raise StoreError(f"{self.where}: the connection pool could not be filled: {exc}") from None
        failure = self._write_probe()
        if failure:
            self.failed(failure)
        self._answered_at = time.monotonic()
        self._stopping = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="store-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        """Ask the server `select 1` every HEARTBEAT_S on a connection of its own (the pool's may all be taken),
        noting when it last answered. An error that comes back at once (a refused or dropped connection) is an
        answer too: the server's state is the pool's and the probes' to judge. Only silence counts here: a
        question or a connection attempt (its timeout is longer than SILENT_AFTER_S) that gets nothing back."""
        conn = None
        try:
            while not self._stopping.wait(HEARTBEAT_S):
                asked = time.monotonic()
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(self.url, **{**self._kwargs, "autocommit": True})
                    conn.execute("select 1")
                except psycopg.Error:
                    if conn is not None:
                        conn.close()
                    conn = None
                    if time.monotonic() - asked > 1.0:  # a timeout, not an answer
                        continue
                except Exception:  # noqa: BLE001 - the heartbeat must go on; a bug here is logged, not silent
                    log.exception("the store's heartbeat failed; trying again")
                    continue
                self._answered_at = time.monotonic()
        finally:
            if conn is not None:
                conn.close()

    def _silent(self) -> str | None:
        """Why the server counts as not answering (nothing back for SILENT_AFTER_S past a heartbeat), or None."""
        waited = time.monotonic() - self._answered_at - HEARTBEAT_S
        if waited > SILENT_AFTER_S:
            return f"{NOT_ANSWERING}: a query has had no answer for {waited:.0f} s"
        return None

    def probe(self, every: float = 1.0) -> str | None:
        """The failure as clients are told it (`shown`), or None."""
        silent = self._silent()
        if silent:  # the write probe would wait on the server too
            self.failed(silent)
            return self.shown(self.failure)
        if self.failure is not None and self.failure.startswith(NOT_ANSWERING):
            every = 0  # answering again: whether it takes writes, now (a failure the silence hid may still hold)
        return self.shown(super().probe(every))

    @staticmethod
    def shown(failure: str | None) -> str | None:
        """A failure as an answer may say it: without the driver's words on the connection, which name the
        server's address (the log has them, for the operator)."""
        if failure and failure.startswith((UNREACHABLE, NOT_ANSWERING)):
            return failure.split(":", 1)[0]
        return failure

    def _configure(self, conn: psycopg.Connection) -> None:
        """Each new connection: writes wait at most `lock_timeout` for a lock (then 503, as SQLite's busy
        timeout), and a transaction left idle is ended by the server."""
        conn.autocommit = True
        conn.execute(f"set lock_timeout = {int(self.lock_timeout * 1000)}")
        conn.execute("set idle_in_transaction_session_timeout = 20000")
        conn.autocommit = False

    def say(self, exc: BaseException) -> str:
        """The driver's message on one line, never with the password."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        return text.replace(self._password, "***") if self._password else text

    def _why_no_connection(self) -> str | None:
        """None when the server answers a new connection, else why it does not."""
        try:
            psycopg.connect(self.url, **{**self._kwargs, "connect_timeout": 2}).close()
        except psycopg.Error as exc:
            return self.say(exc)
        return None

    def _getconn(self, timeout: float) -> psycopg.Connection:
        """A working connection of the pool. One the server dropped (a restart, a cut) is given back, to be
        replaced, and the next one taken at once (the pool's own check waits longer and longer between
        tries); a server that refuses new connections fails at once instead of after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            conn = self.pool.getconn(timeout=max(deadline - time.monotonic(), 0.01))
            try:
                ConnectionPool.check_connection(conn)
                return conn
            except psycopg.Error:
                self.pool.putconn(conn)
                why = self._why_no_connection()
                if why:
                    raise psycopg.OperationalError(why) from None

    def _reason(self, exc: psycopg.Error) -> str:
        # no SQLSTATE: the driver lost or could not open the connection; 08: connection exceptions; 57P: the
        # server shutting down or starting
        state = getattr(exc, "sqlstate", None) or ""
        if not state or state.startswith(("08", "57P")):
            return f"{UNREACHABLE}: {self.say(exc)}"
        return self.say(exc)

    @property
    def _unreachable(self) -> bool:
        return self.failure is not None and self.failure.startswith(UNREACHABLE)

    def _write_probe(self) -> str | None:
        """`_probe_writes`, waited for at most PROBE_WAIT_S: a probe's query on a server that stopped answering
        would hold its caller (a request, /readyz) until it answers. Left waiting in a thread of its own, it
        makes the store "not answering" meanwhile; one such probe at a time."""
        if self._probing is not None and self._probing.is_alive():
            return f"{NOT_ANSWERING}: an earlier probe still has no answer"
        found: dict[str, str | None] = {}
        probing = threading.Thread(target=lambda: found.update(failure=self._probe_writes()), name="store-probe", daemon=True)
        probing.start()
        probing.join(PROBE_WAIT_S)
        if probing.is_alive():
            self._probing = probing
            return f"{NOT_ANSWERING}: a probe has had no answer for {PROBE_WAIT_S:g} s"
        return found.get("failure")

    def _probe_writes(self) -> str | None:
        if self._unreachable:  # a refused connection answers at once; the pool would wait for its timeout
            why = self._why_no_connection()
            if why:
                return f"{UNREACHABLE}: {why}"
        try:
            conn = self._getconn(timeout=1.0)
            try:
                read_only = conn.execute("select current_setting('transaction_read_only')").fetchone()[0]
                conn.rollback()
            finally:
                self.pool.putconn(conn)
        except PoolTimeout:
            why = self._why_no_connection()
            return f"{UNREACHABLE}: {why}" if why else None
        except psycopg.Error as exc:
            return self._reason(exc)
        return "the server refuses writes (transaction_read_only is on)" if read_only == "on" else None

    @contextmanager
    def _transaction(self, timeout: float | None = None) -> Iterator[PostgresConnection]:
        conn = self._getconn(self.lock_timeout if timeout is None else timeout)
        facade = PostgresConnection(conn)
        self._local.conn = facade
        try:
            yield facade
            conn.commit()
        except BaseException:
            if not conn.closed:
                try:
                    conn.rollback()
                except psycopg.Error:
                    pass
            raise
        finally:
            self._local.conn = None
            self.pool.putconn(conn)

    def _refuse(self, exc: psycopg.Error, reading: bool = False) -> StoreUnavailable:
        """The StoreUnavailable (503) for a driver error, marking the store failing when it is."""
        done = "" if reading else "; nothing was written"
        if isinstance(exc, _BUSY):
            return StoreUnavailable(f"the store is busy ({self.say(exc)}){done}, retry")
        if isinstance(exc, PoolTimeout):
            why = self._why_no_connection()
            if why is None:
                return StoreUnavailable(f"the store is busy (every connection in use for {self.lock_timeout:g} s){done}, retry")
            reason = f"{UNREACHABLE}: {why}"
        else:
            reason = self._reason(exc)
        self.failed(reason)
        return StoreUnavailable(f"the store cannot be {'read' if reading else 'written'} ({self.shown(reason)}){done}")

    def _known_down(self, reading: bool = False) -> None:
        """While the store is failing, answer at once rather than wait on the pool (probed once a second)."""
        if (self.failure is not None or self._silent()) and self.probe():
            if reading:
                raise StoreUnavailable(f"the store cannot be read now ({self.shown(self.failure)}); retry")
            raise StoreUnavailable(f"the store cannot be written ({self.shown(self.failure)}); nothing was written")

    @contextmanager
    def writing(self) -> Iterator[PostgresConnection]:
        """One write transaction, or StoreUnavailable (503) with nothing written: no connection or lock within
        `lock_timeout`, the server gone or refusing the write; Conflict (409) with nothing written when it breaks
        a unique or foreign key. A write is never cut by the request's deadline: it commits and is answered, or
        fails."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        self._known_down()
        token = DEADLINE.set(None)
        try:
            try:
                with self._transaction() as conn:
                    yield conn
            except _BUSY + _FAILING as exc:
                raise self._refuse(exc) from None
            except psycopg.IntegrityError as exc:
                raise Conflict(f"the write conflicts with a row already stored ({self.say(exc)}); nothing was written") from None
            self.recovered()
        finally:
            DEADLINE.reset(token)

    @contextmanager
    def reading(self) -> Iterator[PostgresConnection]:
        """A connection for reads; a query past the request's deadline is cancelled by the server (504). The
        server gone: 503, as for writes."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        deadline = DEADLINE.get()
        if self._unreachable or self._silent():  # (a read-only server still answers reads)
            self._known_down(reading=True)
        wait = None
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimedOut("the request's deadline passed before its query could start")
        try:
            with self._transaction(timeout=min(wait, self.lock_timeout) if wait is not None else None) as conn:
                if deadline is not None:
                    # the time left when the query starts; the server cancels it past that
                    left = max(1, int((deadline - time.monotonic()) * 1000))
                    conn.raw.execute(f"set local statement_timeout = {left}")
                yield conn
        except pg_errors.QueryCanceled:
            raise TimedOut("the query ran past the request's deadline and was stopped") from None
        except _BUSY + _FAILING as exc:
            if isinstance(exc, PoolTimeout) and deadline is not None and time.monotonic() >= deadline:
                raise TimedOut("no connection to the store was free before the request's deadline") from None
            raise self._refuse(exc, reading=True) from None

    def close(self) -> None:
        """Close the pool (waiting for the connections in use) and the heartbeat's connection (unless the server
        is not answering it: the daemon thread then ends with the process); a later use raises PoolClosed."""
        self._stopping.set()
        self.pool.close()
        self._heartbeat.join(HEARTBEAT_S + 1)
