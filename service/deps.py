"""Typed dependencies the routers ask for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.errors import NotReady
from service.pipeline import SuggestPipeline


async def get_pipeline(request: Request) -> SuggestPipeline:
    """async, though nothing here waits: a plain `def` dependency would cost a hop through the thread pool."""
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        raise NotReady("service not ready: models are loading")
    return pipeline


PipelineDep = Annotated[SuggestPipeline, Depends(get_pipeline)]
