"""POST /v1/feedback: what the agent did with a suggestion (it moves the adoption prior)."""

from fastapi import APIRouter

from service.auth import AgentRole
from service.deps import PipelineDep
from service.errors import error_responses
from service.schemas import FeedbackRequest, FeedbackResponse

# 404: unknown request or reply id; 422: a reply that was not suggested in that request, or `edited` without text.
router = APIRouter(
    prefix="/v1", tags=["feedback"], dependencies=[AgentRole], responses=error_responses(401, 403, 404, 422, 503)
)


@router.post("/feedback", response_model=FeedbackResponse, status_code=201)
def feedback(body: FeedbackRequest, pipeline: PipelineDep) -> FeedbackResponse:
    """Record clicked / sent / edited / dismissed for a reply of an earlier /v1/suggest answer."""
    return pipeline.feedback(body)
