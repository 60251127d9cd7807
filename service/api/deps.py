"""Typed dependencies the routers ask for: each stage's owner, from `app.state`.

async, though nothing here waits: a plain `def` dependency would cost a hop through the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from anyio import CapacityLimiter
from fastapi import Depends, Request

from intents.analyzer import Analyzer
from service.config import Settings
from service.errors import NotReady
from service.replies.guidance import Guidance
from service.replies.lint import DraftLinter
from service.replies.priors import FeedbackFollower
from service.replies.service import ReplyService
from service.shop.keeper import ShopKeeper
from service.shop.shop import Shop
from service.store import Store


def _loaded(request: Request, name: str):
    value = getattr(request.app.state, name, None)
    if value is None:
        reason = getattr(request.app.state, "load_error", None)
        raise NotReady(f"service not ready: {reason}" if reason else "service not ready: models are loading")
    return value


async def get_analyzer(request: Request) -> Analyzer:
    return _loaded(request, "analyzer")


async def get_replies(request: Request) -> ReplyService:
    return _loaded(request, "replies")


async def get_follower(request: Request) -> FeedbackFollower:
    return _loaded(request, "follower")


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_linter(request: Request) -> DraftLinter:
    return request.app.state.linter


async def get_guidance(request: Request) -> Guidance:
    return request.app.state.guidance


async def get_keeper(request: Request) -> ShopKeeper:
    return request.app.state.shop


async def get_shop(request: Request) -> Shop:
    """The current shop snapshot (one per request: a change meanwhile is seen by the next request)."""
    return request.app.state.shop.shop


async def get_turns(request: Request) -> CapacityLimiter:
    """The process's analysis turns (`flows.in_turn`)."""
    return request.app.state.analysis


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
RepliesDep = Annotated[ReplyService, Depends(get_replies)]
FollowerDep = Annotated[FeedbackFollower, Depends(get_follower)]
StoreDep = Annotated[Store, Depends(get_store)]
LinterDep = Annotated[DraftLinter, Depends(get_linter)]
GuidanceDep = Annotated[Guidance, Depends(get_guidance)]
KeeperDep = Annotated[ShopKeeper, Depends(get_keeper)]
ShopDep = Annotated[Shop, Depends(get_shop)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TurnsDep = Annotated[CapacityLimiter, Depends(get_turns)]
