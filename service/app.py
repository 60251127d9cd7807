"""create_app: the FastAPI application, its routers, error handlers and model loading."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __version__
from service.config import Settings, get_settings
from service.errors import install_error_handlers
from service.pipeline import SuggestPipeline
from service.routes import classify, feedback, health, replies, segment, suggest

log = logging.getLogger("huashu")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Heavy things load once, before the first request; /readyz reports it.
        app.state.pipeline = None
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
    install_error_handlers(app)
    for module in (health, classify, segment, suggest, feedback, replies):
        app.include_router(module.router)
    return app
