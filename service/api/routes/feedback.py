"""POST /v1/feedback: what the agent did with a suggestion (it moves the adoption prior)."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from service.api import flows
from service.api.auth import AgentRole
from service.api.deps import FollowerDep, LinterDep, RepliesDep, StoreDep
from service.api.errors import error_responses
from service.api.schemas import FeedbackRequest, FeedbackResponse

# 404: unknown request or reply id; 422: a reply that was not suggested in that request, or `edited` without text.
router = APIRouter(
    prefix="/v1", tags=["feedback"], dependencies=[AgentRole], responses=error_responses(401, 403, 404, 409, 422, 503)
)


@router.post("/feedback", response_model=FeedbackResponse, status_code=201, responses={200: {"model": FeedbackResponse}})
def feedback(
    body: FeedbackRequest, replies: RepliesDep, store: StoreDep, linter: LinterDep, follower: FollowerDep, response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=100, description="Any unique string per feedback: a retry with the same key is "
               "answered 200 with the first feedback and stores nothing (409 if the key was used for other feedback)."),
    ] = None,
) -> FeedbackResponse:
    """Record clicked / sent / edited / dismissed for a reply of an earlier /v1/suggest answer; an `edited`
    text is kept (PII-masked) with the draft check's findings on it."""
    answer, new = flows.feedback(body, replies, store, linter, follower, idempotency_key)
    if not new:
        response.status_code = 200
    return answer
