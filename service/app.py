"""create_app: the FastAPI application, its routers, error handlers and model loading."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __version__
from service.config import Settings, get_settings, keys_by_role
from service.errors import install_error_handlers
from service.limits import BodyLimit, RateLimit, RequestTimeout
from service.lint import DraftLinter
from service.pipeline import SuggestPipeline
from service.routes import audit, classify, feedback, health, lint, replies, reports, segment, suggest, ui

log = logging.getLogger("huashu")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Heavy things load once, before the first request; /readyz reports it.
        app.state.pipeline = None
        counts = {role: len(keys) for role, keys in app.state.keys.items()}
        if not any(counts.values()):
            log.warning(
                "no API keys configured (HUASHU_AGENT_KEYS, HUASHU_QA_KEYS, HUASHU_ADMIN_KEYS): "
                "every endpoint is open to anyone who can reach it; set keys before exposing the service"
            )
        else:
            log.info("API keys configured per role: %s", counts)
        app.state.pipeline = SuggestPipeline.load(settings)
        log.info("models loaded: %s", app.state.pipeline.versions)
        yield
        app.state.pipeline.store.close()

    app = FastAPI(
        title="huashu 话术助手",
        version=__version__,
        description="Reply suggestions for Chinese online-shop customer service.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keys = keys_by_role(settings)
    # The lexicon is small and needs no model: a bad record stops the app here with file and line.
    app.state.linter = DraftLinter.load(settings.lint_path)
    install_error_handlers(app)
    for module in (health, classify, segment, suggest, feedback, lint, replies, audit, reports, ui):
        app.include_router(module.router)
    # Outermost first: a request over its key's rate or too large is refused before anything else runs.
    app.add_middleware(RequestTimeout, seconds=settings.request_timeout_s)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimit, rate=settings.rate_limit, burst=settings.rate_burst)
    return app
