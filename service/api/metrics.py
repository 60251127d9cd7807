"""GET /metrics in Prometheus's text format: request latency per route, answers by status, what was read
and suggested (intents, knowledge points, handoffs, escalations), agents' adoption (shown → clicked →
sent → edited → dismissed), the audit queue and the store's state; with the reading's caches and encoder
batches (intents.telemetry).

Several worker processes: `huashu serve` sets PROMETHEUS_MULTIPROC_DIR (an empty folder of its own,
removed when it stops) before the app is imported; every process then writes its values there and a scrape
of any worker adds them up (prometheus-client's multiprocess mode). A worker starting marks dead those that
were killed without a word, so that only the living count in the live gauges. One process: the default
registry as it is.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

from service.api.server import alive

REQUEST_SECONDS = Histogram(
    "huashu_request_duration_seconds", "Time from request to the end of the answer, per route.", ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
RESPONSES = Counter("huashu_responses_total", "Answers by route and status code.", ["route", "method", "status"])
MESSAGES = Counter("huashu_messages_total", "Messages read, by endpoint and top intent.", ["endpoint", "intent"])
KNOWLEDGE_POINTS = Counter("huashu_knowledge_points_total", "Suggest answers by their best knowledge point ('none': none fitted).", ["point"])
HANDOFFS = Counter("huashu_handoffs_total", "Suggest answers that hand the message to the agent (no reply sure enough).")
ESCALATIONS = Counter("huashu_escalations_total", "Messages whose handling guidance says escalate.", ["endpoint"])
REPLIES_SHOWN = Counter("huashu_replies_shown_total", "Replies offered in suggest answers, by intent.", ["intent"])
FEEDBACK = Counter("huashu_feedback_total", "Agents' actions on suggested replies (new feedback only), by action.", ["action"])
AUDIT_PENDING = Gauge(
    "huashu_audit_pending_rows", "Audit rows accepted and not yet committed.", multiprocess_mode="livesum"
)
STORE_WRITABLE = Gauge(
    "huashu_store_writable", "1 while the store takes writes, 0 while it refuses them (read-only, full).",
    multiprocess_mode="livemin",
)

# Not timed: the probes and the scrape itself.
_UNTIMED = ("/metrics", "/healthz", "/readyz")


class Metrics:
    """ASGI middleware: each answer's latency and status under its route's template (/v1/audit/{request_id},
    not the id); paths no route matched are counted as `unmatched`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in _UNTIMED:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def recording_send(event):
            nonlocal status
            if event["type"] == "http.response.start":
                status = event["status"]
            await send(event)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("/ui" if scope["path"].startswith("/ui/") else "unmatched")
            method = scope.get("method", "GET")
            REQUEST_SECONDS.labels(template, method).observe(time.perf_counter() - started)
            RESPONSES.labels(template, method, str(status)).inc()


def forget_dead_workers() -> None:
    """Mark dead the worker processes whose live gauges are still in the multiprocess folder: a worker killed
    (SIGKILL, out of memory) never marks itself, and its last values would count for ever. Each worker calls
    this as it starts (the master starts a new one in place of one killed)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    pids = {int(match.group(1)) for path in Path(folder).glob("gauge_live*_*.db") if (match := re.search(r"_(\d+)\.db$", path.name))}
    for pid in pids:
        if not alive(pid):
            multiprocess.mark_process_dead(pid, folder)


def store_state(writable: bool, pending: int) -> None:
    STORE_WRITABLE.set(1 if writable else 0)
    AUDIT_PENDING.set(pending)


router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics() -> Response:
    """Prometheus metrics of every worker process (no key needed: counts and timings, never customer text)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
