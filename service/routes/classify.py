"""POST /v1/classify: intents (and readings) for a batch of messages."""

from fastapi import APIRouter

from service.deps import PipelineDep
from service.schemas import ClassifyRequest, ClassifyResponse

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post("/classify", response_model=ClassifyResponse)
def classify(body: ClassifyRequest, pipeline: PipelineDep) -> ClassifyResponse:
    """Classify up to 256 messages; results come back in input order."""
    return ClassifyResponse(results=pipeline.analyze(body.messages), model_version=pipeline.model_version)
