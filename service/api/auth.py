"""API keys and roles: agent < qa < admin. With no key configured the service runs open (local development)."""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Annotated, Callable, Mapping

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.api.errors import HttpError
from service.config import ROLES


class Unauthorized(HttpError):
    """No API key, or one the service does not know."""

    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class TooManyFailures(HttpError):
    """Too many failed authentications from this address: keys are not checked for a while."""

    status_code = 429
    code = "rate_limited"


class Forbidden(HttpError):
    """A known key whose role may not do this."""

    status_code = 403
    code = "forbidden"


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>` (header names lower-case, as Starlette's)."""
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return headers.get("x-api-key", "").strip() or None


def address_of(scope) -> str:
    return (scope.get("client") or ("?", 0))[0]


# Failed authentications an address may make: a burst of 10, then one every 2 s. While an address is over,
# no key it sends is checked (a guess would otherwise still tell right from wrong).
FAILED_AUTH_BURST = 10
FAILED_AUTH_RATE = 0.5


def role_of(key: str, keys: dict[str, tuple[str, ...]]) -> str | None:
    """The highest role whose keys include `key`. Every configured key is compared, in constant time each."""
    found = None
    for role in ROLES:
        for candidate in keys[role]:
            if hmac.compare_digest(candidate.encode(), key.encode()):
                found = role
    return found


# Declared to OpenAPI (the schema's security schemes); the key itself is read by `presented_key`.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="`Authorization: Bearer <key>`: a key of HUASHU_*_KEYS.")
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey", description="The same key in `X-API-Key`.")


def require(role: str) -> Callable:
    """A dependency refusing requests whose key lacks `role` (401 without a known key, 403 with too low a role)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    # async, though nothing here waits: FastAPI runs a plain `def` dependency in its thread pool,
    # a hop that cost more than the check itself.
    async def check(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
        _header: Annotated[str | None, Depends(API_KEY)] = None,
    ) -> str:
        keys = request.app.state.keys
        if not any(keys.values()):
            # open: no keys configured; a credential sent all the same must be of the documented scheme (its key,
            # even an empty one, is not looked at)
            header = request.headers.get("authorization")
            if header is not None and not header.lower().startswith("bearer "):
                raise Unauthorized("a malformed Authorization header: send 'Authorization: Bearer <key>', or none (this service runs open)")
            return "admin"
        key = presented_key(request.headers)
        if key is None:
            raise Unauthorized(f"this endpoint needs an API key with the {role!r} role: send 'Authorization: Bearer <key>'")
        failures = request.app.state.auth_failures
        address = address_of(request.scope)
        wait = failures.blocked(address)
        if wait > 0:
            raise _too_many(wait)
        held = role_of(key, keys)
        if held is None:
            failures.take(address)
            raise Unauthorized("unknown API key")
        if ROLES.index(held) < ROLES.index(role):
            raise Forbidden(f"this endpoint needs the {role!r} role; the key has {held!r}")
        return held

    return check


def _too_many(wait: float) -> TooManyFailures:
    retry = max(1, math.ceil(wait))
    error = TooManyFailures(f"too many failed authentications from this address; retry in {retry} s")
    error.headers = {"Retry-After": str(retry)}
    return error


AgentRole = Depends(require("agent"))
QaRole = Depends(require("qa"))
AdminRole = Depends(require("admin"))


async def actor(request: Request) -> str:
    """Who makes a change, for the shop's change log: the key's role and a fingerprint of the key (never the key)."""
    keys = request.app.state.keys
    key = presented_key(request.headers)
    if not any(keys.values()) or key is None:
        return "open"
    return f"{role_of(key, keys)}:{hashlib.sha256(key.encode()).hexdigest()[:8]}"


Actor = Annotated[str, Depends(actor)]
