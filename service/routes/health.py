"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(request: Request):
    """200 with the model versions once every model is loaded, 503 before that."""
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is not None:
        if pipeline.degraded:
            return Readiness(status="degraded", models=pipeline.versions, reason=pipeline.degraded)
        return Readiness(status="ready", models=pipeline.versions)
    body = Readiness(status="loading", reason="models are loading")
    return JSONResponse(status_code=503, content=body.model_dump())
