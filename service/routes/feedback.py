"""POST /v1/feedback: what the agent did with a suggestion (it moves the adoption prior)."""

from fastapi import APIRouter

from service.auth import AgentRole
from service.deps import PipelineDep
from service.schemas import FeedbackRequest, FeedbackResponse

router = APIRouter(prefix="/v1", tags=["feedback"], dependencies=[AgentRole])


@router.post("/feedback", response_model=FeedbackResponse, status_code=201)
def feedback(body: FeedbackRequest, pipeline: PipelineDep) -> FeedbackResponse:
    """Record clicked / sent / edited / dismissed for a reply of an earlier /v1/suggest answer."""
    return pipeline.feedback(body)
