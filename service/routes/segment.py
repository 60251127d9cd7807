"""POST /v1/segment: normalised text and jieba tokens."""

from fastapi import APIRouter

from service.auth import AgentRole
from service.deps import PipelineDep
from service.errors import error_responses
from service.schemas import SegmentRequest, SegmentResponse

router = APIRouter(
    prefix="/v1", tags=["segment"], dependencies=[AgentRole], responses=error_responses(401, 403, 422, 503)
)


@router.post("/segment", response_model=SegmentResponse)
def segment(body: SegmentRequest, pipeline: PipelineDep) -> SegmentResponse:
    """Normalise one message and split it into words with the shop dictionary."""
    return pipeline.segment(body.text)
