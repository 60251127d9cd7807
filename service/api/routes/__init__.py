"""One APIRouter per resource."""

from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel) -> Response:
    """`model` as the JSON body FastAPI would make of it, serialised here in the request's worker thread.

    For the hot routes (suggest, classify): a sync endpoint returning a model makes FastAPI validate it once more
    and serialise it in a second trip through the thread pool; the model was validated when it was built. The
    route keeps its `response_model`, so the OpenAPI schema is unchanged (and tests compare the two bodies)."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json")
