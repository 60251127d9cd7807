"""Moving a store from the SQLite file to PostgreSQL (`huashu copy-store`): a shop that starts on one machine
and grows to several replicas keeps its audit log, agents' feedback (the adoption priors), QA reviews, the
daily counts and its shop.

Every table is copied with its ids, in one PostgreSQL transaction, into a database whose store tables are
empty: the copy lands whole or not at all, and a replica writing meanwhile waits for it (the tables are
locked until the commit). The SQLite file is read in one transaction, so the copy is a consistent snapshot
even while a process still writes to it; rows written after that snapshot are not copied."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from service.store.db import Database, StoreError
from service.store.postgres import PostgresDatabase, without_nul

# The store's tables, parents before the rows that reference them (feedback and reviews name a request).
TABLES = (
    "requests", "feedback", "reviews",
    "shop_profile", "products", "size_charts", "shop_replies", "shop_changes",
    "requests_daily", "reply_shown", "feedback_daily",
)
# The tables whose ids PostgreSQL generates: after rows with explicit ids, the next id must come after them.
GENERATED_IDS = ("feedback", "reviews", "shop_changes")
BATCH = 2000

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in it)


class CopyRefused(StoreError):
    """The copy cannot start: the target already holds rows, or the two schemas differ. Nothing was written."""


def copy_store(source: Database, target: PostgresDatabase, progress: Progress | None = None) -> dict[str, int]:
    """Copy every store table of the SQLite `source` into the PostgreSQL `target`, whose store tables must
    be empty; the rows copied per table. Raises CopyRefused before writing anything when the target holds
    rows or the columns differ; any error while copying rolls the whole copy back."""
    with source.lock:
        conn = source.db.conn
        conn.execute("begin")  # one read transaction: a consistent snapshot of the file
        try:
            counts = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in TABLES}
            with target.writing() as pg:
                raw = pg.raw
                # Replicas already on this database wait for the copy instead of writing beside it.
                raw.execute(f"lock table {', '.join(TABLES)} in exclusive mode")
                held = {t: raw.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
                occupied = {t: n for t, n in held.items() if n}
                if occupied:
                    listed = ", ".join(f"{t} {n}" for t, n in occupied.items())
                    raise CopyRefused(
                        f"{target.where} already holds rows ({listed}); copy into a database no replica has written "
                        "to yet (nothing was copied)"
                    )
                for table in TABLES:
                    columns = [row[1] for row in conn.execute(f"pragma table_info({table})")]
                    theirs = [r[0] for r in raw.execute(
                        "select column_name from information_schema.columns where table_schema = current_schema()"
                        " and table_name = %s order by ordinal_position", [table])]
                    if sorted(columns) != sorted(theirs):
                        raise CopyRefused(
                            f"the table {table} has the columns {sorted(columns)} in {source.where} but {sorted(theirs)} in "
                            f"{target.where}; run the same version of huashu on both (nothing was copied)"
                        )
                    _copy_table(conn, raw, table, columns, counts[table], progress)
                for table in GENERATED_IDS:
                    raw.execute(
                        f"select setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) from {table}"
                    )
                copied = {t: raw.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
                if copied != counts:  # pragma: no cover - a guard: COPY writes every row it is given or fails
                    raise StoreError(f"the copy does not add up (source {counts}, target {copied}); rolled back")
        finally:
            conn.rollback()
    return counts


def _copy_table(conn, raw, table: str, columns: list[str], total: int, progress: Progress | None) -> None:
    listed = ", ".join(columns)
    if progress:
        progress(table, 0, total)
    done = 0
    rows = conn.execute(f"select {listed} from {table} order by rowid")
    with raw.cursor() as cursor, cursor.copy(f"copy {table} ({listed}) from stdin") as copy:
        while batch := rows.fetchmany(BATCH):
            for row in batch:
                copy.write_row(without_nul(row))
            done += len(batch)
            if progress:
                progress(table, done, total)


def open_source(path: Path) -> Database:
    """The SQLite file to copy from; a missing file is an error (opening would create an empty one)."""
    if not Path(path).is_file():
        raise StoreError(f"no SQLite store at {path} (HUASHU_DB_PATH or --from): nothing to copy")
    return Database(Path(path))
