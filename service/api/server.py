"""What `huashu serve` adds to uvicorn: connections that must send their request headers in time, and
an access log without query strings.

uvicorn closes a kept-alive connection after `timeout_keep_alive` of silence, but only once a response
has been sent, and any byte received resets it: a connection that never sends a request, or sends its
headers a byte at a time, stays open for ever. Here every connection must complete a request's headers
within `HUASHU_HEADER_TIMEOUT_S` of opening or of its previous response, however it trickles."""

from __future__ import annotations

import asyncio
import logging
import os
import re

from uvicorn.protocols.http.h11_impl import H11Protocol

from service.config import get_settings

try:  # uvicorn's C parser, when installed (as pyproject pins it)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover
    HttpToolsProtocol = None

log = logging.getLogger("huashu")

_header_timeout: float | None = None


def alive(pid: int) -> bool:
    """Whether a process with this id exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def header_timeout() -> float:
    global _header_timeout
    if _header_timeout is None:
        _header_timeout = get_settings().header_timeout_s
    return _header_timeout


class _HeaderDeadline:
    """The timer: armed when a connection opens and after each response, disarmed when a request's
    headers are complete; when it fires the connection is closed."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        seconds = header_timeout()
        if seconds > 0:
            self._header_timer = self.loop.call_later(seconds, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.debug("closing a connection from %s: no complete request within %g s", self.client, header_timeout())
            self.transport.close()


class GuardedH11Protocol(_HeaderDeadline, H11Protocol):
    def handle_events(self) -> None:
        super().handle_events()
        import h11

        if self.conn.their_state is not h11.IDLE:  # a request's headers have arrived
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        import h11

        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()


if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            self._disarm_header_timer()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.timeout_keep_alive_task is not None:  # idle: nothing pipelined
                self._arm_header_timer()

    Protocol: type = GuardedHttpToolsProtocol
else:  # pragma: no cover
    Protocol = GuardedH11Protocol


_QUERY = re.compile(r"\?[^ \"]*")


class DropQueryStrings(logging.Filter):
    """Access-log lines without their query strings: a QA lead's `/v1/audit?q=` search is a customer's
    words, and does not belong in a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            args = list(record.args)
            args[2] = args[2].split("?", 1)[0]
            record.args = tuple(args)
        elif isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY.sub("", record.msg)
        return True
