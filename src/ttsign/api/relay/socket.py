"""The Euler-compatible WebSocket: `GET /ws` and the root path Euler's SDK dials (`wss://host?uniqueId=...`).

Every refusal is a close with Euler's code after the handshake (a browser sees no HTTP status), with the
reason in the close frame. Events are JSON text frames; with `features.rawMessages` the upstream's push
frames pass through as binary, after the JSON workerInfo/roomInfo.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ttsign.api.relay.admit import Refused, admit_consumer, bundle, greeting, relay_of
from ttsign.api.state import Services
from ttsign.relay import (
    CloseCode,
    ConsumerOptions,
    Delivery,
    Ending,
    InvalidOptions,
    Joined,
    close_reason,
    parse_options,
)

router = APIRouter()


async def _close(websocket: WebSocket, code: CloseCode, detail: str = "") -> None:
    if websocket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await websocket.close(int(code), close_reason(code, detail))


async def _send(websocket: WebSocket, options: ConsumerOptions, delivery: Delivery) -> None:
    if options.features.raw_messages and delivery.raw:
        await websocket.send_bytes(delivery.raw)
    elif options.features.bundle_events or options.features.raw_messages:
        # (raw consumers too: the first fetch's messages came over HTTP, there is no frame to pass on)
        if delivery.events:
            await websocket.send_text(delivery.bundle)
    else:
        for event in delivery.events:
            await websocket.send_text(bundle([event], delivery.timestamp_ms))


async def _forward(websocket: WebSocket, options: ConsumerOptions, joined: Joined, lifetime_s: float) -> None:
    """Deliveries to the socket until the room ends it, it goes quiet too long, or its lifetime is over."""
    deadline = time.monotonic() + lifetime_s
    quiet_s = options.features.close_inactive_after_s
    while True:
        left = deadline - time.monotonic()
        try:
            # asyncio.timeout, not wait_for: no extra task per delivery on each of a room's many sockets.
            async with asyncio.timeout(min(quiet_s, max(0.0, left))):
                item = await joined.consumer.next()
        except TimeoutError:
            code = CloseCode.MAX_LIFETIME_EXCEEDED if left <= quiet_s else CloseCode.NO_MESSAGES_TIMEOUT
            await _close(websocket, code)
            return
        if isinstance(item, Ending):
            await _close(websocket, item.code, item.detail)
            return
        await _send(websocket, options, item)


async def _until_client_leaves(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _forward_then_close(
    websocket: WebSocket, options: ConsumerOptions, joined: Joined, lifetime_s: float
) -> None:
    try:
        await _forward(websocket, options, joined, lifetime_s)
    finally:
        # However forwarding ended, the socket closes (a no-op when _forward already closed it with its
        # code), so the endpoint's listener gets its disconnect and returns.
        await _close(websocket, CloseCode.INTERNAL_ERROR)


async def _serve(websocket: WebSocket, options: ConsumerOptions, joined: Joined, svc: Services) -> None:
    """Forward in a task of its own while the endpoint's task listens for the client leaving.

    A task resumes through its whole await chain, and the endpoint's runs a dozen middleware frames deep:
    the loop that wakes for every frame runs in a shallow task, and the endpoint's task wakes once, when the
    client leaves or the forward closes the socket. (Racing two tasks of their own cost a third per consumer.)
    """
    for frame in greeting(options, joined):
        await websocket.send_text(frame)
    lifetime_s = svc.settings.relay_max_lifetime_s
    forward = asyncio.create_task(_forward_then_close(websocket, options, joined, lifetime_s))
    try:
        await _until_client_leaves(websocket)
    finally:
        forward.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
            await forward


async def relay_socket(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    await websocket.accept()
    options = parse_options(websocket.query_params.multi_items())
    if isinstance(options, InvalidOptions):
        await _close(websocket, CloseCode.INVALID_OPTIONS, options.message)
        return
    joined = await admit_consumer(websocket, svc, options)
    if isinstance(joined, Refused):
        await _close(websocket, joined.code, joined.message)
        return
    try:
        await _serve(websocket, options, joined, svc)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the consumer went away mid-send
    finally:
        relay_of(websocket).leave(joined)


router.add_api_websocket_route("/ws", relay_socket, name="relay_socket")
router.add_api_websocket_route("/", relay_socket, name="relay_socket_root")  # Euler's SDK: BASE_URL?query
