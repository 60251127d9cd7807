"""Operating commands: serve the API, the QA report from the audit database, and the retention purge."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import app, fail, progress_bars, reporter
from service.config import get_settings


def _open(settings):
    """The store of the settings for one command, or the reason it cannot be opened, naming its setting."""
    from service.config import ConfigError
    from service.store import Store
    from service.store.db import StoreError

    try:
        return Store.open(settings, background_writer=False)
    except (ConfigError, StoreError) as exc:
        fail(str(exc))


@app.command()
def report(
    since: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="First day (UTC), inclusive.")] = None,
    until: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="Last day (UTC), inclusive.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """QA report from the audit log ($HUASHU_DB_PATH, or $HUASHU_DATABASE_URL): per-intent precision, recall, F1 and support
    from reviewed rows, the confusion matrix, the confidence histogram and reply adoption."""
    from service.api.routes.audit import date_range
    from service.api.schemas import IntentReport
    from service.store.reports import intent_report

    settings = get_settings()
    if not settings.shared_store and not settings.db_path.exists():
        fail(f"no audit database at {settings.db_path}: serve some traffic first (or set HUASHU_DB_PATH or HUASHU_DATABASE_URL)")
    store = _open(settings)
    try:
        result = IntentReport(**intent_report(store.qa, *date_range(since.date() if since else None, until.date() if until else None)))
    finally:
        store.close()
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    lines = [f"intents: {result.reviewed} reviewed of {result.requests} requests"
             f" ({result.since or 'start'} – {result.until or 'now'})", ""]
    lines.append(f"{'intent':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}{'shown':>8}{'sent+edited':>13}")
    def shown(value, width: int, spec: str = ".3f") -> str:
        return f"{'no data' if value is None else format(value, spec):>{width}}"

    for intent, s in result.per_intent.items():
        a = result.adoption_per_intent[intent]
        lines.append(f"{intent:<12}{shown(s.precision, 10)}{shown(s.recall, 10)}{shown(s.f1, 10)}{s.support:>10d}{a.shown:>8d}"
                     f"{shown(a.rate, 13, '.2%')}")
    lines += ["", f"accuracy {shown(result.accuracy, 0, '.4f')}   macro-F1 {shown(result.macro_f1, 0, '.4f')}", "",
              "confusion matrix (rows: reviewed, columns: predicted)",
              " " * 12 + "".join(f"{label[:9]:>10}" for label in result.confusion.labels)]
    for label, row in zip(result.confusion.labels, result.confusion.matrix):
        lines.append(f"{label:<12}" + "".join(f"{v:>10d}" for v in row))
    lines += ["", "confidence  requests  reviewed  correct"]
    for b in result.confidence_histogram:
        lines.append(f"{b.low:.1f}–{b.high:.1f}   {b.count:>8d}  {b.reviewed:>8d}  {b.correct:>7d}")
    print("\n".join(lines))


@app.command()
def purge(
    before: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Delete audit rows created before this day (UTC).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted.")] = False,
) -> None:
    """Delete audit rows older than a day, with their feedback and reviews, for retention policies ($HUASHU_DB_PATH,
    or $HUASHU_DATABASE_URL)."""
    settings = get_settings()
    if not settings.shared_store and not settings.db_path.exists():
        fail(f"no audit database at {settings.db_path} (set HUASHU_DB_PATH or HUASHU_DATABASE_URL)")
    store = _open(settings)
    try:
        counts = store.qa.purge(before.date().isoformat(), dry_run=dry_run)
    finally:
        store.close()
    verb = "would delete" if dry_run else "deleted"
    print(f"{verb} {counts['requests']} audit rows, {counts['feedback']} feedback rows and {counts['reviews']} reviews "
          f"created before {before.date().isoformat()}")


@app.command("copy-store")
def copy_store_command(
    source: Annotated[Optional[Path], typer.Option("--from", help="The SQLite file to copy (default $HUASHU_DB_PATH).")] = None,
    target: Annotated[Optional[str], typer.Option(
        "--to", help="The PostgreSQL URL to copy into (default $HUASHU_DATABASE_URL); its store tables must be empty.")] = None,
) -> None:
    """Copy the SQLite store (audit log, feedback, reviews, daily counts, the shop) into an empty PostgreSQL
    database, ids and all, in one transaction: for moving to several replicas without losing the history."""
    import psycopg

    from service.errors import StoreUnavailable
    from service.store.copy import copy_store, open_source
    from service.store.db import StoreError
    from service.store.postgres import PostgresDatabase, masked

    settings = get_settings()
    url = target or (settings.database_url.get_secret_value().strip() if settings.database_url else "")
    if not url:
        fail("no PostgreSQL database to copy into: give --to postgresql://… or set HUASHU_DATABASE_URL")
    try:
        sqlite = open_source(source or settings.db_path)
    except StoreError as exc:
        fail(str(exc))
    try:
        try:
            postgres = PostgresDatabase(url, pool_size=1, setting="--to" if target else "HUASHU_DATABASE_URL")
        except StoreError as exc:
            fail(str(exc))
        try:
            with progress_bars() as progress:
                counts = copy_store(sqlite, postgres, reporter(progress))
        except StoreUnavailable as exc:
            fail(f"{postgres.where}: {exc}")
        except StoreError as exc:
            fail(str(exc))
        except psycopg.Error as exc:
            fail(f"the copy into {postgres.where} failed and was rolled back, nothing was copied: {postgres.say(exc)}")
        finally:
            postgres.close()
    finally:
        sqlite.close()
    print(f"copied {counts['requests']} audit rows, {counts['feedback']} feedback rows, {counts['reviews']} reviews "
          f"and the shop ({counts['products']} products, {counts['shop_replies']} replies, {counts['shop_changes']} changes) "
          f"from {sqlite.path} into {masked(url)}")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address (default $HUASHU_HOST or 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default $HUASHU_PORT or 8000).")] = None,
) -> None:
    """Serve the HTTP API with uvicorn (the models must be built: `huashu train`; nothing is built here)."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from intents.encoder import usable_cores
    from intents.models import ModelLoadError
    from service.api.app import check_models
    from service.api.server import Protocol
    from service.config import ConfigError, check_open, keys_by_role
    from service.store.db import StoreError, check_database

    settings = get_settings()
    try:
        check_open(settings, keys_by_role(settings))
        check_database(settings.store_location)
        check_models(settings)
    except (ConfigError, StoreError, ModelLoadError) as exc:
        fail(str(exc))
    # Each worker process has its own encoder: share the cores among them, not oversubscribe. Their metrics
    # meet in a folder of files that GET /metrics on any worker adds up (prometheus-client multiprocess
    # mode); it must be empty at start.
    created = None
    if settings.workers > 1:
        folder, own = metrics_folder()
        created = folder if own else None
        os.makedirs(folder, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        # Feedback and QA reads may reach another worker right after the suggest: each audit row is
        # committed before its answer, not queued in one worker's memory (unless set otherwise).
        os.environ.setdefault("HUASHU_AUDIT_FLUSH_MS", "0")
        # A worker whose master dies (SIGKILL, OOM) exits too instead of serving on as an orphan.
        os.environ["HUASHU_EXIT_WITH_PARENT"] = "1"
        share = str(max(1, usable_cores() // settings.workers))
        os.environ.setdefault("OMP_NUM_THREADS", share)
        os.environ.setdefault("HUASHU_ENCODER_THREADS", share)
    # Our own log lines (model loading, errors) go through uvicorn's handler.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["huashu"] = {"handlers": ["default"], "level": settings.log_level.upper(), "propagate": False}
    log_config.setdefault("filters", {})["no_query"] = {"()": "service.api.server.DropQueryStrings"}
    log_config["handlers"]["access"]["filters"] = ["no_query"]
    try:
        uvicorn.run(
            "service.main:app",
            host=host or settings.host,
            port=port or settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            log_config=log_config,
            http=Protocol,
            timeout_keep_alive=settings.keep_alive_s,
            timeout_graceful_shutdown=settings.shutdown_timeout_s,
        )
    finally:
        if created:  # this master's folder: nothing reads it once the workers are gone
            shutil.rmtree(created, ignore_errors=True)


MASTER_FILE = "master.pid"  # not *.db: the metrics collector reads only those


def metrics_folder() -> tuple[str, bool]:
    """The folder the workers' metrics meet in: PROMETHEUS_MULTIPROC_DIR as the operator set it (False), or a
    new temporary folder of this master's (True: removed when it stops). Folders an earlier master made and
    could not remove (it was killed) go first: each holds its master's pid."""
    from service.api.server import alive

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        return given, False
    for old in Path(tempfile.gettempdir()).glob("huashu-metrics-*"):
        try:
            master = int((old / MASTER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not one of ours to judge
        if not alive(master):
            shutil.rmtree(old, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix="huashu-metrics-")
    (Path(folder) / MASTER_FILE).write_text(str(os.getpid()))
    return folder, True
