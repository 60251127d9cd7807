"""POST /v1/suggest: the full reading of a message and the replies to offer."""

from fastapi import APIRouter, Response

from service.api import flows
from service.api.auth import AgentRole
from service.api.deps import AnalyzerDep, GuidanceDep, RepliesDep, ShopDep, StoreDep, TurnsDep
from service.api.errors import error_responses
from service.api.routes import json_response
from service.api.schemas import SuggestRequest, SuggestResponse

router = APIRouter(
    prefix="/v1", tags=["suggest"], dependencies=[AgentRole], responses=error_responses(401, 403, 422, 503)
)


@router.post("/suggest", response_model=SuggestResponse)
async def suggest(
    body: SuggestRequest, analyzer: AnalyzerDep, guidance: GuidanceDep, replies: RepliesDep, store: StoreDep, shop: ShopDep,
    turns: TurnsDep,
) -> Response:
    """Analyse a customer message and suggest replies: answered with the shop's facts, its products' attributes
    and size charts where it has them."""
    with flows.SUGGESTING.one() as alone:  # counted while it waits for its turn too
        return await flows.in_turn(
            turns, lambda: json_response(flows.suggest(body, analyzer, guidance, replies, store, shop, alone))
        )
