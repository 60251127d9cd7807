"""POST /v1/feedback: what the agent did with a suggestion (it moves the adoption prior)."""

from fastapi import APIRouter

from service.api import flows
from service.api.auth import AgentRole
from service.api.deps import RepliesDep, StoreDep
from service.api.errors import error_responses
from service.api.schemas import FeedbackRequest, FeedbackResponse

# 404: unknown request or reply id; 422: a reply that was not suggested in that request, or `edited` without text.
router = APIRouter(
    prefix="/v1", tags=["feedback"], dependencies=[AgentRole], responses=error_responses(401, 403, 404, 422, 503)
)


@router.post("/feedback", response_model=FeedbackResponse, status_code=201)
def feedback(body: FeedbackRequest, replies: RepliesDep, store: StoreDep) -> FeedbackResponse:
    """Record clicked / sent / edited / dismissed for a reply of an earlier /v1/suggest answer."""
    return flows.feedback(body, replies, store)
