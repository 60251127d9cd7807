"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.schemas import Health, Readiness, StoreState

router = APIRouter(tags=["health"])


@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(request: Request):
    """200 with the model versions once every model is loaded and the store takes writes (`degraded` when
    serving without a part); 503 while they load, when they failed to, or when the store cannot be written."""
    state = request.app.state
    store = _store_state(state.store)
    analyzer, replies = state.analyzer, state.replies
    if analyzer is not None and replies is not None:
        versions = {**analyzer.versions, **replies.versions}
        if store.status == "unavailable":
            body = Readiness(status="unavailable", models=versions, reason=f"the store cannot be written: {store.reason}", store=store)
            return JSONResponse(status_code=503, content=body.model_dump())
        degraded = "; ".join(r for r in (analyzer.degraded, replies.degraded) if r) or None
        if degraded:
            return Readiness(status="degraded", models=versions, reason=degraded, store=store)
        return Readiness(status="ready", models=versions, store=store)
    if state.load_error:
        body = Readiness(status="failed", reason=state.load_error, store=store)
    else:
        body = Readiness(status="loading", reason="models are loading", store=store)
    return JSONResponse(status_code=503, content=body.model_dump())


def _store_state(store) -> StoreState:
    if store is None:
        return StoreState(status="opening")
    failure = store.database.probe()
    if failure:
        return StoreState(status="unavailable", reason=failure, audit_pending=store.audit.pending)
    return StoreState(status="ok", audit_pending=store.audit.pending)
