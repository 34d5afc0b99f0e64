"""Server-sent events: `GET /events?uniqueId=...` with the same options and JSON as the WebSocket, for
clients that cannot speak WebSockets. Refusals before the stream are ttsign's JSON errors with an HTTP
status; once streaming, each bundle is a `data:` line, and the end is an `event: close` with Euler's code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from ttsign.api.errors import error_response, request_id_of
from ttsign.api.relay.admit import HTTP_STATUS, REASON_CODES, Refused, admit_consumer, greeting, relay_of
from ttsign.api.state import services
from ttsign.relay import (
    CloseCode,
    ConsumerOptions,
    Delivery,
    InvalidOptions,
    Joined,
    Relay,
    close_reason,
    parse_options,
)

router = APIRouter(tags=["relay"])

KEEPALIVE_S = 15.0  # a comment line now and then keeps proxies from timing the stream out


def _close_event(code: CloseCode, detail: str = "") -> str:
    document = {"code": int(code), "reason": close_reason(code, detail)}
    return f"event: close\ndata: {json.dumps(document)}\n\n"


async def _stream(options: ConsumerOptions, joined: Joined, relay: Relay, lifetime_s: float) -> AsyncIterator[str]:
    try:
        for frame in greeting(options, joined):
            yield f"data: {frame}\n\n"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lifetime_s
        quiet_until = loop.time() + options.features.close_inactive_after_s
        while True:
            now = loop.time()
            if now >= deadline:
                yield _close_event(CloseCode.MAX_LIFETIME_EXCEEDED)
                return
            if now >= quiet_until:
                yield _close_event(CloseCode.NO_MESSAGES_TIMEOUT)
                return
            try:
                item = await asyncio.wait_for(
                    joined.consumer.next(), min(KEEPALIVE_S, quiet_until - now, deadline - now)
                )
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if not isinstance(item, Delivery):
                yield _close_event(item.code, item.detail)
                return
            quiet_until = loop.time() + options.features.close_inactive_after_s
            if item.events:
                yield f"data: {item.bundle}\n\n"
    finally:
        relay.leave(joined)


@router.get(
    "/events",
    summary="The room's events as server-sent events (the WebSocket relay's JSON)",
    response_class=StreamingResponse,
    # Like the WebSocket, outside the OpenAPI document: a stream that may last hours and answers 502 when
    # TikTok refuses does not fit a request/response schema (README, "The event relay", documents it).
    include_in_schema=False,
)
async def relay_events(request: Request) -> Response:
    svc = services(request)
    request_id = request_id_of(request)
    options = parse_options(request.query_params.multi_items())
    if isinstance(options, InvalidOptions):
        return error_response(400, "invalid_options", options.message, request_id)
    if options.features.raw_messages:
        return error_response(400, "invalid_options", "features.rawMessages needs the WebSocket (/ws)", request_id)
    joined = await admit_consumer(request, svc, options)
    if isinstance(joined, Refused):
        status = HTTP_STATUS.get(joined.code, 502)
        reason = joined.reason or REASON_CODES.get(joined.code, "upstream_error")
        return error_response(status, reason, close_reason(joined.code, joined.message), request_id)
    stream = _stream(options, joined, relay_of(request), svc.settings.relay_max_lifetime_s)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: pass each event on at once
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
