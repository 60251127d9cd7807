"""Domain exceptions and the one place that turns every error into a JSON HTTP answer."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("huashu")


class ServiceError(Exception):
    """Base of the errors the service reports to clients."""

    status_code = 500
    code = "internal_error"
    headers: dict[str, str] | None = None

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotReady(ServiceError):
    """The models are not loaded (yet, or they failed to load)."""

    status_code = 503
    code = "not_ready"


class NotFound(ServiceError):
    """A referenced id (request, reply) does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The request contradicts what is stored (a duplicate id)."""

    status_code = 409
    code = "conflict"


class InvalidReply(ServiceError):
    """A shop reply breaks the corpus rules (unknown intent, bad template, …)."""

    status_code = 422
    code = "invalid_reply"


class Unprocessable(ServiceError):
    """The body is well-formed but refers to things that do not belong together."""

    status_code = 422
    code = "invalid_request"


def _field(loc: tuple, kind: str | None = None) -> str:
    # ("body", "messages", 3) -> "messages[3]"; the "body" prefix says nothing useful.
    if kind == "json_invalid":  # loc is ("body", <character offset>)
        return "body"
    parts = [p for p in loc if p != "body"]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _problem(err: dict) -> str:
    if err.get("type") == "json_invalid":
        reason = (err.get("ctx") or {}).get("error", "")
        offset = err.get("loc", ("body", None))[-1]
        where = f" at character {offset}" if isinstance(offset, int) else ""
        return f"request body is not valid JSON{where}{': ' + reason if reason else ''}"
    if err.get("type") == "missing" and tuple(err.get("loc", ())) == ("body",):
        return "request body is required: send a JSON object"
    if err.get("type") == "model_attributes_type":
        return "request body must be a JSON object"
    msg = err.get("msg", "invalid value")
    return msg.removeprefix("Value error, ")


def validation_body(errors: list[dict]) -> dict:
    details = [{"field": _field(tuple(e.get("loc", ())), e.get("type")), "problem": _problem(e), "type": e.get("type")} for e in errors]
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    if len(details) > 5:
        summary += f"; and {len(details) - 5} more"
    return {"error": "invalid_request", "message": summary, "detail": details}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content=validation_body(list(exc.errors())))

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code, content={"error": exc.code, "message": exc.message}, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": code, "message": str(exc.detail)},
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"error": "internal_error", "message": "internal error; see the server log"})
