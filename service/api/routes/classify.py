"""POST /v1/classify: intents (and readings) for a batch of messages."""

from fastapi import APIRouter, Response

from service.api import flows
from service.api.auth import AgentRole
from service.api.deps import AnalyzerDep, GuidanceDep, StoreDep, TurnsDep
from service.api.errors import error_responses
from service.api.routes import json_response
from service.api.schemas import ClassifyRequest, ClassifyResponse

router = APIRouter(
    prefix="/v1", tags=["classify"], dependencies=[AgentRole], responses=error_responses(401, 403, 422, 503)
)


@router.post("/classify", response_model=ClassifyResponse)
async def classify(
    body: ClassifyRequest, analyzer: AnalyzerDep, guidance: GuidanceDep, store: StoreDep, turns: TurnsDep
) -> Response:
    """Classify up to 256 messages; results come back in input order."""

    def work() -> Response:
        results = flows.classify(body.messages, analyzer, guidance, store)
        return json_response(ClassifyResponse(results=results, model_version=analyzer.model_version))

    return await flows.in_turn(turns, work)
