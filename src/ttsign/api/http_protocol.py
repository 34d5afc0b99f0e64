"""The HTTP/1.1 connection: uvicorn's httptools protocol, with deadlines on every request's head and body and
a size cap on its head.

uvicorn bounds none of them with httptools: a client may send its headers or its body a byte at a time for
ever, or one 32 MB header, which httptools keeps whole (growing it piece by piece) before any callback sees
it. Here:

- Head time: a request's head must be complete within `head_timeout_s`, counted from the connection for its
  first request and from a request's first byte for the next ones. Then the connection is closed, with a
  408 when a request had begun.
- Body time: a request's body must be complete within `body_timeout_s` of its head; then 408 (unless an
  answer has begun) and the connection is closed. The request is marked (`BODY_TIMED_OUT`), so the ASGI
  side, which sees only the disconnect, counts it as the 408 it was.
- Head size: the reads that fall wholly inside an incomplete head are counted (not the one it began in);
  past `max_head_bytes` the answer is 431 and the connection closes, so a head costs at most the cap and two
  reads of memory. A head that arrives in fewer reads is measured exactly by request_limits.py: the same 431.

Idle keep-alive connections are uvicorn's (`timeout_keep_alive`). One timer per connection serves both
deadlines (see `_check_deadlines`): a request costs two clock reads and a few attribute updates, where a
timer per request, or asyncio.timeout around each body, cost several microseconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)

BODY_TIMED_OUT = "ttsign.body_timed_out"  # scope key: this connection cut the request's body off


@dataclass(frozen=True)
class ConnectionLimits:
    max_head_bytes: int
    head_timeout_s: float
    body_timeout_s: float

    @property
    def check_every_s(self) -> float:
        """The connection's timer wakes at least this often: no deadline is shorter, so none is missed."""
        return min(self.head_timeout_s, self.body_timeout_s)


def raw_error(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 error answer in the API's JSON shape, for when no ASGI request can answer it."""
    body = json.dumps({"code": status, "reason": reason, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `limits` enforced (see the module docstring)."""

    limits = ConnectionLimits(max_head_bytes=16 * 1024, head_timeout_s=10.0, body_timeout_s=10.0)

    # Per-connection state; class-level defaults, so uvicorn's constructor stays untouched.
    _timer: asyncio.TimerHandle | None = None
    _head_since: float | None = None  # when the pending head's time began; None while no head is pending
    _body_since: float | None = None  # when the pending body's time began; None while no body is pending
    _in_head = False  # between a request's first byte and the end of its headers
    _head_bytes = 0  # bytes of reads that fell wholly inside the current head
    _heads_done = 0  # request heads completed on this connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]  # uvicorn narrows it to asyncio.Transport
        self._head_since = self.loop.time()  # a connection that never sends a request is closed as well
        self._timer = self.loop.call_later(self.limits.check_every_s, self._check_deadlines)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        counted, heads_done = self._in_head, self._heads_done
        super().data_received(data)
        # Only a read that began inside a head and completed none lies wholly inside it: count it then.
        if counted and self._heads_done == heads_done:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_head_bytes:
                self._close_with(431, "headers_too_large", f"request headers over {self.limits.max_head_bytes} bytes")

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
        self._body_since = self.loop.time()  # until on_message_complete, at once for a request without body
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_since = None
        super().on_message_complete()

    def _check_deadlines(self) -> None:
        """Act on a deadline passed, else sleep until the nearest pending one (or one period when none is)."""
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            self._timer = None  # closed, or handed to the WebSocket protocol: nothing left to time
            return
        now = self.loop.time()
        limits = self.limits
        deadlines = [now + limits.check_every_s]
        if self._head_since is not None:
            deadlines.append(self._head_since + limits.head_timeout_s)
        if self._body_since is not None:
            deadlines.append(self._body_since + limits.body_timeout_s)
        nearest = min(deadlines)
        if nearest > now:
            self._timer = self.loop.call_later(nearest - now, self._check_deadlines)
            return
        self._timer = None
        if self._body_since is not None and self._body_since + limits.body_timeout_s <= now:
            self._cut_body()
        elif self._in_head:
            self._close_with(408, "header_timeout", f"request headers not received within {limits.head_timeout_s:g} s")
        else:  # connected and never began a request: nobody to answer
            self.transport.close()

    def _cut_body(self) -> None:
        message = f"request body not received within {self.limits.body_timeout_s:g} s"
        logger.info("closing connection from %s: %s", self._peer(), message)
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.scope[BODY_TIMED_OUT] = True  # type: ignore[literal-required]  # our own key in the scope
            self.transport.write(raw_error(408, "body_timeout", message))
        self.transport.close()  # the app waiting for the body is told the client is gone

    def _close_with(self, status: int, reason: str, message: str) -> None:
        if self.transport.is_closing():
            return
        logger.info("closing connection from %s: %s", self._peer(), message)
        # A response still being written for an earlier (pipelined) request must not be interleaved.
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(raw_error(status, reason, message))
        self.transport.close()

    def _peer(self) -> str:
        return self.client[0] if self.client else "unknown"


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """The protocol class to hand uvicorn (its `http` setting), with these limits."""

    class Configured(GuardedHttpProtocol):
        pass

    Configured.limits = limits
    return Configured
