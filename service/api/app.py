"""create_app: the FastAPI application, its routers, error handlers and the loading of each stage.

What needs no model (settings, keys, the draft-check lexicon, the guidance, the store) is ready when the
app starts, so the QA endpoints answer at once; the models load in a background thread, and /readyz
turns 200 when they are in.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Callable

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi_offline import FastAPIOffline

from intents.analyzer import Analyzer
from intents.caching import CachedProbabilities
from intents.encoder import ENCODER_NAME, usable_cores
from intents.models import ModelLoadError, load_knowledge_model, missing_models
from service import __version__
from service.api import metrics
from service.api.auth import FAILED_AUTH_BURST, FAILED_AUTH_RATE
from service.api.errors import install_error_handlers
from service.api.limits import BodyLimit, RateLimit, RequestTimeout, buckets
from service.api.routes import (
    audit,
    classify,
    feedback,
    health,
    lint,
    replies,
    reports,
    segment,
    shop,
    suggest,
    ui,
)
from service.config import Settings, check_open, get_settings, keys_by_role
from service.errors import Unprocessable
from service.replies.corpus import StandardReply
from service.replies.guidance import Guidance
from service.replies.knowledge import KnowledgePoint
from service.replies.lint import DraftLinter
from service.replies.priors import FeedbackFollower
from service.replies.service import ReplyService, load_replies
from service.shop.keeper import ShopKeeper, describe, load_shop
from service.shop.shop import ShopHolder
from service.store import Store
from service.store.records import FeedbackCursor

log = logging.getLogger("huashu")


@dataclass
class Loaded:
    """The stages that need the models."""

    analyzer: Analyzer
    replies: ReplyService


@dataclass(frozen=True)
class Library:
    """The validated replies (read before the models, so that a bad record stops start-up) and the
    stored feedback (read before, so that loading never touches the store)."""

    points: list[KnowledgePoint]
    shop: list[StandardReply]
    feedback: list[tuple[str, str, str]]
    # where the read of `feedback` ended (records.FeedbackCursor, or the last id): the follower reads on from it
    feedback_last_id: int | FeedbackCursor = 0


# What loads the model-bound stages: the real models by default, a fake in fast tests.
Loader = Callable[[Settings, Library], Loaded]


def load_models(settings: Settings, library: Library) -> Loaded:
    """The analyzer from the built models, then the replies indexed with its encoder."""
    analyzer = Analyzer.load(
        settings.model_dir,
        shop_dict=settings.data_file("shop_dict"),
        encoder_threads=settings.encoder_threads,
        encoder_solo=settings.encoder_solo,
        cache_size=settings.cache_size,
        max_batch=settings.max_batch,
        batch_window=settings.batch_window_ms / 1000,
    )
    knowledge_model, knowledge_metadata = load_knowledge_model(settings.model_dir / "knowledge", ENCODER_NAME)
    replies = ReplyService.load(
        analyzer,
        library.points,
        library.shop,
        knowledge_model=CachedProbabilities(knowledge_model, settings.cache_size, "knowledge_points"),
        knowledge_version=knowledge_metadata["version"],
        feedback=library.feedback,
        encoder=settings.encoder,
        model_dir=settings.model_dir,
        cache_dir=settings.embedding_cache,
        handoff_below=settings.handoff_below,
    )
    return Loaded(analyzer, replies)


def check_models(settings: Settings) -> None:
    """Refuse to start, naming the command that builds them, when the classifiers are missing
    (a cheap check, before anything loads). The encoder alone may be missing: degraded mode."""
    missing = missing_models(settings.model_dir)
    if missing:
        raise ModelLoadError(
            f"no {' or '.join(missing)} model in {settings.model_dir.resolve()} (HUASHU_MODEL_DIR): "
            "build the models with `huashu train` (or `make serve`, which builds every missing model)"
        )


async def single_query_values(request: Request) -> None:
    """Every query parameter of the API takes one value: ?category=a&category=b is refused (422), not
    silently read as its last value. (async: as a plain function FastAPI ran it in its thread pool, a hop
    per request for a loop over a few parameters.)"""
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen:
            raise Unprocessable(f"query parameter {key!r} is given more than once; give it once")
        seen.add(key)


def exit_with_parent() -> None:
    """A worker process of `huashu serve --workers N`: ask Linux to send it SIGTERM when its master dies
    (PR_SET_PDEATHSIG), so a killed master leaves no orphan holding the port; and if the master is already
    gone, stop now."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if parent == 1 or os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def _return_free_memory() -> None:
    """Hand the memory freed while loading (the copies the models' request-time paths replaced) back to
    the system: glibc keeps freed blocks in the process otherwise. Elsewhere, nothing happens."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _leave_out_of_full_collections(stop: threading.Event) -> None:
    """Freeze what is alive now (the loaded models: jieba's dictionary, the vocabularies, the reply index)
    out of the cyclic garbage collector's full walks. Each walked them all, about 80 ms with the GIL held, and
    every request in flight waited (full collections are rare once serving: none in 3,000 requests of the
    bench's mix; this trims the tail, not the median). They live as long as the app; its
    shutdown unfreezes them (`gc.unfreeze`), so that another app in the same process (the tests) can free
    them. Nothing is frozen for an app already stopping."""
    gc.collect()
    if not stop.is_set():
        gc.freeze()


class _SaidOnce:
    """A background task that fails round after round (the store down) says so once, with the traceback, and
    once when it works again: not at every round for as long as the outage lasts."""

    def __init__(self, what: str):
        self.what = what
        self.failing = False

    def failed(self, message: str) -> None:
        """Called from an except block."""
        if self.failing:
            log.debug("%s", message, exc_info=True)
        else:
            log.warning("%s (said once until it works again)", message, exc_info=True)
            self.failing = True

    def worked(self) -> None:
        if self.failing:
            log.info("%s works again", self.what)
            self.failing = False


def create_app(settings: Settings | None = None, loader: Loader | None = None) -> FastAPI:
    settings = settings or get_settings()
    load = loader or load_models

    def load_in_background(app: FastAPI, library: Library, stop: threading.Event) -> None:
        try:
            loaded = load(settings, library)
        except Exception as exc:  # noqa: BLE001 - reported by /readyz and the log; the process stays up for QA
            app.state.load_error = f"models failed to load ({type(exc).__name__}: {exc})"
            log.exception("models failed to load")
        else:
            keeper: ShopKeeper = app.state.shop
            # The products' own knowledge points join the replies, now and whenever the shop changes.
            keeper.checks.append(lambda shop: loaded.replies.check_products(shop.products))
            keeper.holder.listen(lambda shop: loaded.replies.set_products(shop.products))
            # Feedback stored by other processes and replicas reaches this one's priors within
            # HUASHU_PRIORS_REFRESH_S; its own at once (the feedback flow catches up after storing).
            # reads through whatever store the app holds now (a restarted lifespan opens a new one)
            follower = FeedbackFollower(
                lambda after: app.state.store.records.feedback_since(after), loaded.replies.priors, library.feedback_last_id
            )
            try:
                follower.catch_up()  # what other processes stored while this one loaded
            except Exception:  # noqa: BLE001 - the store closed (shutting down) or busy: the refresh thread catches up
                log.warning("could not read the feedback stored while the models loaded; the next refresh will", exc_info=True)
            # before the models are served: the one full collection here runs with no request in flight
            _return_free_memory()
            _leave_out_of_full_collections(stop)
            app.state.follower = follower
            app.state.analyzer, app.state.replies = loaded.analyzer, loaded.replies
            log.info("models loaded: %s", {**loaded.analyzer.versions, **loaded.replies.versions})
        finally:
            app.state.ready.set()

    def refresh_shop(keeper: ShopKeeper, stop: threading.Event) -> None:
        """Pick up shop changes made elsewhere (the CLI, another replica) every few seconds."""
        said = _SaidOnce("shop refresh")
        while not stop.wait(settings.shop_refresh_s):
            try:
                keeper.refresh()
            except Exception:  # noqa: BLE001 - a bad stored change is logged; the current shop stays
                said.failed("shop refresh failed; the current shop stays")
            else:
                said.worked()

    def follow_feedback(app: FastAPI, stop: threading.Event) -> None:
        """Feedback from the other processes and replicas into this one's priors, every few seconds."""
        said = _SaidOnce("reading other processes' feedback")
        while not stop.wait(settings.priors_refresh_s):
            follower = getattr(app.state, "follower", None)
            if follower is None:
                continue
            try:
                follower.catch_up()
            except Exception:  # noqa: BLE001 - the store may be busy or failing; the next round tries again
                said.failed(f"reading other processes' feedback failed; trying again every {settings.priors_refresh_s:g} s")
            else:
                said.worked()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if os.environ.get("HUASHU_EXIT_WITH_PARENT") == "1":
            exit_with_parent()
        metrics.forget_dead_workers()  # with several workers: one killed before this one started
        counts = {role: len(keys) for role, keys in app.state.keys.items()}
        check_open(settings, app.state.keys)
        if not any(counts.values()):
            log.warning(
                "running open (HUASHU_OPEN=1, no API keys): every endpoint is open to anyone who can reach it; "
                "set HUASHU_AGENT_KEYS, HUASHU_QA_KEYS and HUASHU_ADMIN_KEYS before exposing the service"
            )
        else:
            log.info("API keys configured per role: %s", counts)
        if loader is None:
            check_models(settings)
        store = Store.open(settings)
        try:
            # Cheap and strict: a bad reply record stops start-up here with file, line and reason.
            points, shop = load_replies(settings.data_file("knowledge_dir"), store.shop.reply_records())
            library = Library(points, shop, *store.records.feedback_events())
        except BaseException:
            store.close()
            raise
        app.state.store = store
        store.audit.observe = metrics.store_state
        metrics.store_state(store.database.failure is None, store.audit.pending)
        try:
            shop, version = load_shop(store.shop, settings.demo_shop)
        except Exception:
            store.close()
            raise
        app.state.shop = ShopKeeper(store.shop, ShopHolder(shop, version), settings.demo_shop)
        (log.info if shop.configured else log.warning)("%s", describe(shop))
        # Suggestions and classifications take turns on a few threads (`flows.in_turn`), not on the pool's forty.
        app.state.analysis = anyio.CapacityLimiter(settings.analysis_threads or usable_cores() + 1)
        stop = threading.Event()
        if settings.priors_refresh_s > 0:
            threading.Thread(target=follow_feedback, args=(app, stop), name="priors-refresh", daemon=True).start()
        if settings.shop_refresh_s > 0 and not settings.demo_shop:
            threading.Thread(target=refresh_shop, args=(app.state.shop, stop), name="shop-refresh", daemon=True).start()
        # Heavy things load once, off the event loop; the endpoints that need them answer 503 until then.
        loader_thread = threading.Thread(
            target=load_in_background, args=(app, library, stop), name="model-loader", daemon=True
        )
        loader_thread.start()
        yield
        stop.set()
        gc.unfreeze()
        store.close()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # this worker's live gauges no longer count
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())

    # /docs and /redoc from the Swagger UI and ReDoc files installed with fastapi-offline, not a CDN
    # (which a machine without internet, or on many mainland networks, cannot reach).
    app = FastAPIOffline(
        title="huashu 话术助手",
        version=__version__,
        description="Reply suggestions for Chinese online-shop customer service.",
        lifespan=lifespan,
        dependencies=[Depends(single_query_values)],
    )
    app.state.settings = settings
    app.state.keys = keys_by_role(settings)
    app.state.auth_failures = buckets(FAILED_AUTH_RATE, FAILED_AUTH_BURST, settings.rate_limit_storage, settings.workers, "huashu-auth")
    app.state.analyzer = app.state.replies = app.state.store = app.state.shop = app.state.load_error = None
    app.state.follower = None
    app.state.ready = threading.Event()
    # Small files, no model: a bad record stops the app here with file and line.
    app.state.linter = DraftLinter.load(settings.data_file("lint_path"))
    app.state.guidance = Guidance.load()
    install_error_handlers(app)
    for module in (health, metrics, classify, segment, suggest, feedback, lint, replies, shop, audit, reports, ui):
        app.include_router(module.router)
    # Outermost first: a request over its key's rate or too large is refused before anything else runs.
    app.add_middleware(RequestTimeout, seconds=settings.request_timeout_s)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimit, rate=settings.rate_limit, burst=settings.rate_burst, storage_uri=settings.rate_limit_storage, workers=settings.workers
    )
    app.add_middleware(metrics.Metrics)  # outermost: refused requests are counted too
    return app
