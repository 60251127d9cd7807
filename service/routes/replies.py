"""GET/POST /v1/replies: the reply corpus and the shop's own additions."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from service.auth import AdminRole, AgentRole
from service.deps import PipelineDep
from service.errors import error_responses
from service.routes.audit import MAX_OFFSET
from service.schemas import ReplyList, ReplyRecord

router = APIRouter(prefix="/v1", tags=["replies"], responses=error_responses(401, 403, 422, 503))


@router.get("/replies", response_model=ReplyList, dependencies=[AgentRole])
def list_replies(
    pipeline: PipelineDep,
    intent: str | None = None,
    category: str | None = None,
    source: Literal["corpus", "shop"] | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Text the reply contains.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ReplyList:
    """List replies, filtered by intent, category, source (corpus or shop) and text."""
    total, replies = pipeline.list_replies(intent, category, source, q, limit, offset)
    return ReplyList(total=total, replies=replies)


@router.post(
    "/replies", response_model=ReplyRecord, status_code=201, dependencies=[AdminRole], responses=error_responses(409)
)
def add_reply(body: ReplyRecord, pipeline: PipelineDep) -> ReplyRecord:
    """Add a shop's own reply, validated like the corpus; it is suggested from now on."""
    return pipeline.add_reply(body)
