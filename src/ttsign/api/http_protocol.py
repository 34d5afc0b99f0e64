"""The HTTP/1.1 connection: uvicorn's httptools protocol, with a deadline and a size cap on every request head.

uvicorn bounds neither with httptools: a client may send its headers a byte at a time for ever, or one 32 MB
header, which httptools keeps whole (growing it piece by piece) before any callback sees it. Here:

- Time: a request's head must be complete within `timeout_s`, counted from the connection for its first
  request and from a request's first byte for the next ones. Then the connection is closed, with a 408 when
  a request had begun. (Bodies are timed at the ASGI edge, request_limits.py; idle keep-alive by uvicorn.)
- Size: the reads that fall wholly inside an incomplete head are counted (not the one it began in); past
  `max_bytes` the answer is 431 and the connection closes, so a head costs at most the cap and two reads of
  memory. A head that arrives in fewer reads is measured exactly by request_limits.py: the same 431.

The cost per request is a clock read and a few attribute updates (one timer per connection, see
`connection_made`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int
    timeout_s: float


def raw_error(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 error answer in the API's JSON shape, for when no ASGI request exists to answer it."""
    body = json.dumps({"code": status, "reason": reason, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `head_limits` enforced (see the module docstring)."""

    head_limits = HeadLimits(max_bytes=16 * 1024, timeout_s=10.0)

    # Per-connection state; class-level defaults, so uvicorn's constructor stays untouched.
    _head_timer: asyncio.TimerHandle | None = None
    _head_since: float | None = None  # when the pending head's time began; None while no head is pending
    _in_head = False  # between a request's first byte and the end of its headers
    _head_bytes = 0  # bytes of reads that fell wholly inside the current head
    _heads_done = 0  # request heads completed on this connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]  # uvicorn narrows it to asyncio.Transport
        # One timer per connection, not per request: it wakes at most once per timeout and re-arms itself for
        # the exact deadline of whatever head is pending, so a request costs a clock read, not a timer.
        self._head_since = self.loop.time()  # a connection that never sends a request is closed as well
        self._head_timer = self.loop.call_later(self.head_limits.timeout_s, self._check_head)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        counted, heads_done = self._in_head, self._heads_done
        super().data_received(data)
        # Only a read that began inside a head and completed none lies wholly inside it: count it then.
        if counted and self._heads_done == heads_done:
            self._head_bytes += len(data)
            if self._head_bytes > self.head_limits.max_bytes:
                self._close_with(431, "headers_too_large", f"request headers over {self.head_limits.max_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        if self._head_since is None:  # the first request keeps the time its connection started
            self._head_since = self.loop.time()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_since = None
        self._heads_done += 1
        super().on_headers_complete()

    def _check_head(self) -> None:
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            self._head_timer = None  # closed, or handed to the WebSocket protocol: nothing left to time
            return
        now = self.loop.time()
        deadline = (
            now + self.head_limits.timeout_s
            if self._head_since is None
            else self._head_since + self.head_limits.timeout_s
        )
        if deadline > now:
            self._head_timer = self.loop.call_later(deadline - now, self._check_head)
            return
        self._head_timer = None
        if not self._in_head:  # connected and never began a request: nobody to answer
            if not self.transport.is_closing():
                self.transport.close()
            return
        self._close_with(408, "header_timeout", f"request headers not received within {self.head_limits.timeout_s:g} s")

    def _close_with(self, status: int, reason: str, message: str) -> None:
        if self.transport.is_closing():
            return
        logger.info("closing connection from %s: %s", self.client[0] if self.client else "unknown", message)
        # A response still being written for an earlier (pipelined) request must not be interleaved.
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(raw_error(status, reason, message))
        self.transport.close()


def guarded_protocol(limits: HeadLimits) -> type[GuardedHttpProtocol]:
    """The protocol class to hand uvicorn (its `http` setting), with these limits."""

    class Configured(GuardedHttpProtocol):
        head_limits = limits

    return Configured
