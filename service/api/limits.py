"""Limits that keep one client from hurting the others: body size, per-key rate, request time.

Plain ASGI middleware, so a refused request costs no JSON parsing and no model work. Every
refusal is a JSON body like the rest of the API's errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time

from starlette.datastructures import Headers

from service.api.auth import address_of, presented_key, role_of
from service.store.db import DEADLINE

log = logging.getLogger("huashu")

# Paths that are never limited: probes, metrics, the pages and their assets, the API docs.
_FREE = ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc", "/static-offline-docs/", "/ui/")


def _limited(scope) -> bool:
    return scope["type"] == "http" and not scope["path"].startswith(_FREE)


async def _answer(send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a body over `max_bytes`, from Content-Length or, without it, counted as it is read."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.max_bytes <= 0:
            return await self.app(scope, receive, send)
        message = f"the request body is larger than {self.max_bytes} bytes"
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                return await _answer(send, 400, "bad_request", "Content-Length is not a number")
            if too_large:
                return await _answer(send, 413, "payload_too_large", message)
            return await self.app(scope, receive, send)
        # No Content-Length (a chunked body): read it here, up to the cap, then hand it on.
        chunks, seen, more = [], 0, True
        while more:
            event = await receive()
            if event["type"] != "http.request":
                return  # the client went away
            chunks.append(event.get("body", b""))
            seen += len(chunks[-1])
            more = event.get("more_body", False)
            if seen > self.max_bytes:
                return await _answer(send, 413, "payload_too_large", message)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class TokenBuckets:
    """A token bucket per client: `rate` requests a second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int, max_clients: int = 100_000):
        self.rate = rate
        self.burst = max(burst, 1)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def blocked(self, client: str, now: float | None = None) -> float:
        """The seconds until `client` may go ahead again (0: it may), without taking a token."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, client: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1 - tokens) / self.rate
            if len(self._buckets) > self.max_clients:  # forget the full (idle) buckets first
                for key in [k for k, (t, _) in self._buckets.items() if t >= self.burst - 1][: self.max_clients // 10]:
                    del self._buckets[key]
        return wait


# How long a call to the shared store may take before the request goes ahead without it (the check runs on the
# event loop: a frozen Redis held every request, the probes included), and how long the store is then left alone
# before it is tried again (a request each few seconds pays the timeout, not every request).
STORE_TIMEOUT_S = 0.25
STORE_RETRY_S = 5.0


class SharedBuckets:
    """The same limit kept in a store every process and replica shares (Redis, through `limits`): `burst`
    requests per window of `burst / rate` seconds (whole seconds), as a sliding-window counter. When the store
    cannot be reached, or does not answer within STORE_TIMEOUT_S, the request goes ahead (limiting is not worth
    an outage), said once in the log; the store is tried again STORE_RETRY_S later."""

    def __init__(self, rate: float, burst: int, storage_uri: str, namespace: str = "huashu"):
        from limits import RateLimitItemPerSecond
        from limits.storage import storage_from_string
        from limits.strategies import SlidingWindowCounterRateLimiter

        self.rate = rate
        self.burst = max(burst, 1)
        self.item = RateLimitItemPerSecond(self.burst, max(1, round(self.burst / rate)), namespace=namespace)
        # redis-py waits 5 s by default, on connecting and on each answer (and may retry): every scheme of Redis
        # and Valkey that `limits` knows (plain, TLS, unix socket, cluster, sentinel) passes these to its client
        options = {"socket_timeout": STORE_TIMEOUT_S, "socket_connect_timeout": STORE_TIMEOUT_S}
        scheme = storage_uri.split("://", 1)[0].lower()
        ours = scheme.startswith(("redis", "valkey"))
        self.limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri, **(options if ours else {})))
        self._failing = False
        self._retry_at = 0.0

    def _wait(self, client: str) -> float:
        stats = self.limiter.get_window_stats(self.item, client)
        return max(1.0 / self.rate, stats.reset_time - time.time())

    def _guarded(self, step, client: str) -> float:
        if self._failing and time.monotonic() < self._retry_at:
            return 0.0
        try:
            wait = step(client)
        except Exception as exc:  # noqa: BLE001 - any storage failure: let the request through
            if not self._failing:
                log.error("the rate-limit store cannot be reached (%s): requests are not limited until it can", exc)
            self._failing = True
            self._retry_at = time.monotonic() + STORE_RETRY_S
            return 0.0
        if self._failing:
            log.warning("the rate-limit store answers again")
            self._failing = False
        return wait

    def blocked(self, client: str) -> float:
        return self._guarded(lambda c: 0.0 if self.limiter.test(self.item, c) else self._wait(c), client)

    def take(self, client: str) -> float:
        return self._guarded(lambda c: 0.0 if self.limiter.hit(self.item, c) else self._wait(c), client)


def buckets(rate: float, burst: int, storage_uri: str, workers: int = 1, namespace: str = "huashu"):
    """The limiter for `rate` a second with bursts of `burst`: shared through `storage_uri` (redis://…), or
    in this process's memory; in memory with several workers each gets its share of the limit."""
    if not storage_uri.startswith("memory"):
        return SharedBuckets(rate, burst, storage_uri, namespace)
    share = max(workers, 1)
    return TokenBuckets(rate / share, max(1, burst // share))


class RateLimit:
    """429 with Retry-After once a key (or, without keys, a client address) exceeds its rate."""

    def __init__(self, app, rate: float, burst: int, storage_uri: str = "memory://", workers: int = 1):
        self.app = app
        self.buckets = buckets(rate, burst, storage_uri, workers, "huashu-requests") if rate > 0 else None

    @staticmethod
    def client_of(scope) -> str:
        """A known key's own bucket (by a digest: the key itself is never kept); anything else, a made-up key
        included, shares the client address's."""
        key = presented_key(Headers(scope=scope))
        app = scope.get("app")
        keys = getattr(getattr(app, "state", None), "keys", None) or {}
        if key and any(keys.values()) and role_of(key, keys) is not None:
            return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
        return "addr:" + address_of(scope)

    async def __call__(self, scope, receive, send):
        if self.buckets is None or not _limited(scope):
            return await self.app(scope, receive, send)
        wait = self.buckets.take(self.client_of(scope))
        if wait > 0:
            retry = max(1, math.ceil(wait))
            return await _answer(
                send, 429, "rate_limited",
                f"too many requests: at most {self.buckets.rate:g} a second per key (bursts of {self.buckets.burst}); "
                f"retry in {retry} s",
                {"Retry-After": str(retry)},
            )
        await self.app(scope, receive, send)


# POSTs that only read (their audit row is queued, not written in the request): they may be cut at the deadline.
READS = ("/v1/suggest", "/v1/classify", "/v1/segment", "/v1/lint")


def is_write(scope) -> bool:
    return scope["method"] not in ("GET", "HEAD") and scope["path"] not in READS


class RequestTimeout:
    """504 when a read has not started its answer within `seconds`; the work behind it is stopped too (a
    database query past the deadline is interrupted). A write is never cut: it either commits and is
    answered, or fails before writing (503 when the store is busy), so no client sees 504 for stored data."""

    def __init__(self, app, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope, receive, send):
        if self.seconds <= 0 or not _limited(scope) or is_write(scope):
            return await self.app(scope, receive, send)
        started = abandoned = False

        async def tracking_send(event):
            nonlocal started
            if abandoned:  # the client already has its 504
                return
            started = started or event["type"] == "http.response.start"
            await send(event)

        token = DEADLINE.set(time.monotonic() + self.seconds)  # the request's work sees it (and its queries stop)
        try:
            task = asyncio.ensure_future(self.app(scope, receive, tracking_send))
        finally:
            DEADLINE.reset(token)
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if task in done:
            return task.result()
        if started:  # the answer is on its way: let it finish
            return await task
        abandoned = True
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        await _answer(send, 504, "timeout", f"the request took longer than {self.seconds:g} s and was abandoned")
