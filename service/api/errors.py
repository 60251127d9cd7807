"""The one place that turns every error into a JSON HTTP answer: domain errors, validation, HTTP."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from service.api.schemas import ErrorBody, ValidationErrorBody
from service.errors import Conflict, InvalidReply, NotFound, NotReady, ServiceError, StoreUnavailable, TimedOut, Unprocessable

log = logging.getLogger("huashu")


# Each domain error's HTTP status and stable code (subclasses inherit their base's).
STATUS: dict[type, tuple[int, str]] = {
    NotReady: (503, "not_ready"),
    StoreUnavailable: (503, "store_unavailable"),
    TimedOut: (504, "timeout"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    InvalidReply: (422, "invalid_reply"),
    Unprocessable: (422, "invalid_request"),
}


class HttpError(ServiceError):
    """An error that exists only at the HTTP edge (authentication); it carries its own status."""

    status_code = 500
    code = "internal_error"
    headers: dict[str, str] | None = None


def status_of(exc: ServiceError) -> tuple[int, str, dict[str, str] | None]:
    if isinstance(exc, HttpError):
        return exc.status_code, exc.code, exc.headers
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return (*STATUS[kind], None)
    return 500, "internal_error", None


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


# A body with thousands of problems gets the first few, and their count: the answer stays small.
MAX_DETAIL = 20


def validation_body(errors: list[dict]) -> dict:
    details = [
        {"field": _field(tuple(e.get("loc", ())), e.get("type")), "problem": _problem(e), "type": e.get("type")}
        for e in errors[:MAX_DETAIL]
    ]
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    if len(errors) > 5:
        summary += f"; and {len(errors) - 5} more"
    if len(errors) > MAX_DETAIL:
        summary += f" ({len(errors)} problems in all; `detail` lists the first {MAX_DETAIL})"
    return {"error": "invalid_request", "message": summary, "detail": details}


# What each error status means, for the OpenAPI `responses=` of the routes that can answer with it.
ERROR_RESPONSES = {
    401: "No API key, or an unknown one (only when keys are configured).",
    403: "The key's role may not do this.",
    404: "A referenced id does not exist.",
    409: "The request contradicts what is stored (a duplicate id).",
    422: "The request is invalid; `detail` names each field and its problem.",
    413: "The request body is larger than HUASHU_MAX_BODY_BYTES.",
    429: "Too many requests for this key (or address); `Retry-After` says when to retry.",
    503: "The models are not loaded yet, or the store cannot record the request.",
    504: "The request took longer than HUASHU_REQUEST_TIMEOUT_S and was abandoned (a write is never answered 504 once stored).",
}
# What every /v1 route can answer besides its own: the limits in front of it.
LIMITS = (413, 429, 504)


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses=` entries for the JSON error bodies a route answers with, so the schema tells the truth.
    A route behind a key (401) is behind the limits too (413, 429, 504)."""
    if 401 in statuses:
        statuses = (*statuses, *LIMITS)
    return {
        status: {"model": ValidationErrorBody if status == 422 else ErrorBody, "description": ERROR_RESPONSES[status]}
        for status in statuses
    }


# FastAPI answers 400 for a body it cannot decode at all (bytes that are not UTF-8, JSON nested past the
# recursion limit); that is malformed JSON all the same, so it gets the same 422 as any other.
_UNREADABLE_BODY = ((UnicodeDecodeError, "not UTF-8"), (RecursionError, "nested too deeply"))


def _allowed_methods(request: Request, given: str | None) -> str | None:
    """Every method the path answers to: Starlette's 405 names only those of the first route on the path
    (GET for /v1/replies, which takes POST too). Paths outside the schema keep Starlette's answer."""
    path = request.scope["path"]
    methods = {
        method.upper()
        for template, operations in request.app.openapi()["paths"].items()
        if compile_path(template)[0].match(path)
        for method in operations
    }
    if "GET" in methods:
        methods.add("HEAD")  # as Starlette answers HEAD wherever GET is
    return ", ".join(sorted(methods)) if methods else given


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content=validation_body(list(exc.errors())))

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        status, code, headers = status_of(exc)
        content: dict = {"error": code, "message": exc.message}
        if status == 422:  # every 422 names its problems, like a validation error
            content["detail"] = [{"field": "body", "problem": exc.message, "type": code}]
        return JSONResponse(status_code=status, content=content, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = next((text for kind, text in _UNREADABLE_BODY if isinstance(exc.__cause__, kind)), None)
        if exc.status_code == 400 and reason is not None:
            error = {"type": "json_invalid", "loc": ("body",), "ctx": {"error": reason}}
            return JSONResponse(status_code=422, content=validation_body([error]))
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request, (headers or {}).get("Allow"))}
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(status_code=exc.status_code, content={"error": code, "message": str(exc.detail)}, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"error": "internal_error", "message": "internal error; see the server log"})
