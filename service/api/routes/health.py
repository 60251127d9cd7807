"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(request: Request):
    """200 with the model versions once every model is loaded (`degraded` when serving without a part),
    503 while they load or when they failed to."""
    state = request.app.state
    analyzer, replies = state.analyzer, state.replies
    if analyzer is not None and replies is not None:
        versions = {**analyzer.versions, **replies.versions}
        degraded = "; ".join(r for r in (analyzer.degraded, replies.degraded) if r) or None
        if degraded:
            return Readiness(status="degraded", models=versions, reason=degraded)
        return Readiness(status="ready", models=versions)
    if state.load_error:
        body = Readiness(status="failed", reason=state.load_error)
    else:
        body = Readiness(status="loading", reason="models are loading")
    return JSONResponse(status_code=503, content=body.model_dump())
