"""API keys and roles: agent < qa < admin. With no key configured the service runs open (local development)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Callable, Mapping

from fastapi import Depends, Request

from service.api.errors import HttpError
from service.config import ROLES


class Unauthorized(HttpError):
    """No API key, or one the service does not know."""

    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


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


def role_of(key: str, keys: dict[str, tuple[str, ...]]) -> str | None:
    """The highest role whose keys include `key`. Every configured key is compared, in constant time each."""
    found = None
    for role in ROLES:
        for candidate in keys[role]:
            if hmac.compare_digest(candidate.encode(), key.encode()):
                found = role
    return found


def require(role: str) -> Callable:
    """A dependency refusing requests whose key lacks `role` (401 without a known key, 403 with too low a role)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    # async, though nothing here waits: FastAPI runs a plain `def` dependency in its thread pool,
    # a hop that cost more than the check itself.
    async def check(request: Request) -> str:
        keys = request.app.state.keys
        if not any(keys.values()):
            return "admin"  # open: no keys configured
        key = presented_key(request.headers)
        if key is None:
            raise Unauthorized(f"this endpoint needs an API key with the {role!r} role: send 'Authorization: Bearer <key>'")
        held = role_of(key, keys)
        if held is None:
            raise Unauthorized("unknown API key")
        if ROLES.index(held) < ROLES.index(role):
            raise Forbidden(f"this endpoint needs the {role!r} role; the key has {held!r}")
        return held

    return check


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
