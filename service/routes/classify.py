"""POST /v1/classify: intents (and readings) for a batch of messages."""

from fastapi import APIRouter

from service.auth import AgentRole
from service.deps import PipelineDep
from service.errors import error_responses
from service.schemas import ClassifyRequest, ClassifyResponse

router = APIRouter(
    prefix="/v1", tags=["classify"], dependencies=[AgentRole], responses=error_responses(401, 403, 422, 503)
)


@router.post("/classify", response_model=ClassifyResponse)
def classify(body: ClassifyRequest, pipeline: PipelineDep) -> ClassifyResponse:
    """Classify up to 256 messages; results come back in input order."""
    return ClassifyResponse(results=pipeline.classify(body.messages), model_version=pipeline.model_version)
