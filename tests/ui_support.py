"""Shared by the browser and server tests: headless Chromium, the app served on a loopback port, readiness polling."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import httpx
import pytest
import uvicorn

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
QA_KEY, AGENT_KEY = "qa-test-key", "agent-test-key"


@contextmanager
def launch_browser():
    """Headless Chromium from /usr/bin; skips the test when Playwright or Chromium is missing."""
    if sync_playwright is None:
        pytest.skip("the playwright package is not installed (pip install playwright==1.65.2)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_ready(base: str, gone: Callable[[], str | None], ready_within: float = 300) -> None:
    """Polls `base`/readyz until 200; fails with `gone()`'s account once the server has stopped,
    or when `ready_within` seconds pass."""
    deadline = time.monotonic() + ready_within
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        stopped = gone()
        assert stopped is None, stopped
        assert time.monotonic() < deadline, f"{base} was not ready within {ready_within:.0f} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (import this fixture into the module)."""
    with launch_browser() as chromium:
        yield chromium


@contextmanager
def serve(app, ready_within: float = 300):
    """Serves `app` with uvicorn in a thread on a free loopback port; yields the base URL once /readyz says ready."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_ready(base, lambda: None if thread.is_alive() else "uvicorn stopped before the app was ready", ready_within)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
