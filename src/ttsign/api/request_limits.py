"""Request limits at the ASGI edge, before a request waits for an in-flight slot: the head's size and the
body's size; and the body is read here, whole.

A body is read before the request takes a slot and handed to the app from memory. A slow client then holds
its connection and at most `max_body_bytes` of memory, never one of the in-flight slots every other request
needs (in_flight.py sits inside this middleware); the connection (http_protocol.py) cuts a body that takes
longer than `body_timeout_s`. Requests without a body (neither Content-Length nor Transfer-Encoding, as
HTTP/1.1 defines it) pass straight through.

Answers, all JSON in the API's error shape: 431 for a head over `max_header_bytes` (the connection's own
guard refuses heads still arriving; this one measures those that came in one read), 413 for a body over
the limit, which closes the connection (its unread rest is of no use). A request that ends without an
answer is marked with what it was (`unanswered`), for metrics and the access line: 408 `body_timeout`
when the connection cut its body off (and answered 408 itself), else 499 `client_closed`, a client that
hung up mid-body: not an error.
"""

from __future__ import annotations

import logging

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ttsign.api.errors import error_response, new_request_id
from ttsign.api.http_protocol import BODY_TIMED_OUT

logger = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's status for a client that closed the connection before the answer
_UNANSWERED = "ttsign.unanswered"
_CLOSE = {"Connection": "close"}


def unanswered(scope: Scope) -> tuple[int, str] | None:
    """(status, reason) of a request that ended before it could be answered here, or None."""
    outcome: tuple[int, str] | None = scope.get(_UNANSWERED)
    return outcome


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_header_bytes: int, max_body_bytes: int) -> None:
        self._app = app
        self._max_head = max_header_bytes
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        # One pass over the headers, which every request pays: the head's size and whether a body follows.
        head = len(scope.get("raw_path", b"")) + len(scope["query_string"])
        has_body = False
        declared = 0
        for name, value in scope["headers"]:
            head += len(name) + len(value) + 4  # "name: value\r\n"
            if name == b"content-length":
                declared = int(value) if value.isdigit() else self._max_body + 1
                has_body = declared > 0
            elif name == b"transfer-encoding":
                has_body = True
        if head > self._max_head:
            message = f"request headers over {self._max_head} bytes"
            await _refusal(431, "headers_too_large", message)(scope, receive, send)
        elif declared > self._max_body:
            await self._too_large()(scope, receive, send)
        elif not has_body:
            await self._app(scope, receive, send)
        else:
            await self._with_body(scope, receive, send)

    async def _with_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await self._read(receive)
        if body is None:
            timed_out = bool(scope.get(BODY_TIMED_OUT))
            scope[_UNANSWERED] = (408, "body_timeout") if timed_out else (CLIENT_CLOSED, "client_closed")
            logger.debug("the connection closed before the request body was complete")
        elif len(body) > self._max_body:
            await self._too_large()(scope, receive, send)
        else:
            await self._app(scope, _replaying(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body (stopping once past the limit), or None when the client hung up first."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self._max_body or not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> Response:
        return _refusal(413, "payload_too_large", f"request body over {self._max_body} bytes")


def _refusal(status: int, reason: str, message: str) -> Response:
    """The API's JSON error, closing the connection: whatever the client has not sent yet is of no use."""
    return error_response(status, reason, message, new_request_id(), headers=_CLOSE)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then the connection's own events (a disconnect, for whoever waits for one)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
