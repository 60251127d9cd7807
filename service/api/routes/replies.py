"""GET/POST /v1/replies: the reply corpus and the shop's own additions."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from service.api import flows
from service.api.auth import Actor, AdminRole, AgentRole
from service.api.deps import RepliesDep, StoreDep
from service.api.errors import error_responses
from service.api.routes.audit import MAX_OFFSET
from service.api.schemas import ReplyList, ReplyRecord

router = APIRouter(prefix="/v1", tags=["replies"], responses=error_responses(401, 403, 422, 503))


@router.get("/replies", response_model=ReplyList, dependencies=[AgentRole])
def list_replies(
    replies: RepliesDep,
    intent: str | None = None,
    category: str | None = None,
    source: Literal["corpus", "shop"] | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Text the reply contains.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ReplyList:
    """List replies, filtered by intent, category, source (corpus or shop) and text."""
    found = replies.list(intent, category, source, q)
    return ReplyList(total=len(found), replies=[flows.reply_record(r) for r in found[offset : offset + limit]])


@router.post(
    "/replies", response_model=ReplyRecord, status_code=201, dependencies=[AdminRole], responses=error_responses(409)
)
def add_reply(body: ReplyRecord, replies: RepliesDep, store: StoreDep, who: Actor) -> ReplyRecord:
    """Add a shop's own reply, validated like the corpus; it is suggested from now on."""
    return flows.add_reply(body, replies, store, who)
