"""POST /v1/suggest: the full reading of a message and the replies to offer."""

from fastapi import APIRouter

from service.auth import AgentRole
from service.deps import PipelineDep
from service.errors import error_responses
from service.schemas import SuggestRequest, SuggestResponse

router = APIRouter(
    prefix="/v1", tags=["suggest"], dependencies=[AgentRole], responses=error_responses(401, 403, 422, 503)
)


@router.post("/suggest", response_model=SuggestResponse)
def suggest(body: SuggestRequest, pipeline: PipelineDep) -> SuggestResponse:
    """Analyse a customer message and suggest replies."""
    return pipeline.suggest(body)
