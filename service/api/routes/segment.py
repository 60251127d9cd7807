"""POST /v1/segment: normalised text and jieba tokens."""

from fastapi import APIRouter

from service.api.auth import AgentRole
from service.api.deps import AnalyzerDep
from service.api.errors import error_responses
from service.api.schemas import SegmentRequest, SegmentResponse

router = APIRouter(
    prefix="/v1", tags=["segment"], dependencies=[AgentRole], responses=error_responses(401, 403, 422, 503)
)


@router.post("/segment", response_model=SegmentResponse)
def segment(body: SegmentRequest, analyzer: AnalyzerDep) -> SegmentResponse:
    """Normalise one message and split it into words with the shop dictionary."""
    doc = analyzer.segment(body.text)
    return SegmentResponse(normalized=doc.text, tokens=list(doc.tokens))
