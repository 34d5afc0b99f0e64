"""Relay mode for unmodified clients (issue 14 item 4): point a client's sign server at `<ttsign>/relay` and
its room's events come through ttsign's relay instead of a TikTok socket of its own.

- `GET /relay/webcast/fetch?room_id=` (TikTokLive) and `GET /relay/webcast/rooms/{room_id}/connect` (the
  Node connector): admitted as every connect is; the room's relay socket is opened (so a room that is not
  live is refused here, in the client's own error shape), and the answer is a fetch result whose
  `push_server` is this server's `/webcast/relay/push/`.
- `WS /webcast/relay/push/`: TikTok's push protocol as the clients speak it: the subprotocol echoed only if
  offered, `Handshake-Options: ping-interval`, an `im_enter_room_resp` to their `im_enter_room`, their
  heartbeats and acks taken, and the room's frames as TikTok sent them, from the moment of their connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect

from ttsign.api.access import client_ip, credentials
from ttsign.api.errors import error_response, request_id_of
from ttsign.api.relay import admit
from ttsign.api.relay.admit import HTTP_STATUS, REASON_CODES, relay_of
from ttsign.api.relay.door import open_client_room, push_server_of
from ttsign.api.state import Services, services
from ttsign.relay import CloseCode, Delivery, Ending, Joined, close_reason
from ttsign.relay.client_mode import (
    PUSH_PATH,
    ROOM_PARAM,
    TICKET_PARAM,
    check_ticket,
    client_frame_type,
    enter_room_response,
    room_key,
)
from ttsign.service.admission import Denied
from ttsign.service.rooms import InvalidInput, check_room_id

router = APIRouter(include_in_schema=False)

PROTOBUF = "application/protobuf"
PING_INTERVAL_S = 10  # TikTokLive heartbeats at the Handshake-Options interval; TikTok's own is 10 s
_CLIENT_CLOSE_WAIT_S = 5.0
_ENTER_GRACE_S = 2.0  # after a stream-end message the clients close the socket themselves


async def ticket_secret(svc: Services) -> bytes:
    # In the store, so every replica checks the tickets any replica issued.
    return (await svc.store.secret("relay_ticket", lambda: secrets.token_urlsafe(32))).encode()


async def _connect(request: Request, room_id: str) -> Response:
    svc = services(request)
    request_id = request_id_of(request)
    try:
        room_id = check_room_id(room_id)
    except InvalidInput as exc:
        return error_response(400, "invalid_input", str(exc), request_id)
    admitted = await svc.admission.admit(credentials(request), client_ip(request), room_id=room_id)
    if isinstance(admitted, Denied):
        return error_response(admitted.status, admitted.reason, admitted.message, request_id)
    key = room_key(room_id)
    room = await open_client_room(relay_of(request), await ticket_secret(svc), key, push_server_of(request.scope))
    if isinstance(room, Ending):
        status = HTTP_STATUS.get(room.code, 502)
        reason = REASON_CODES.get(room.code, "upstream_error")
        return error_response(status, reason, close_reason(room.code, room.detail), request_id)
    headers = {
        # ttwid first (the Node client keeps the first pair); the relay socket does not read it.
        "X-Set-TT-Cookie": f"ttwid=relay-{secrets.token_hex(8)}",
        "X-Room-Id": room.room_id,
        "X-Request-Id": request_id,
    }
    return Response(content=room.payload, media_type=PROTOBUF, headers=headers)


@router.get("/relay/webcast/fetch")
@router.get("/relay/webcast/fetch/")
async def relay_fetch(request: Request, room_id: str = "") -> Response:
    return await _connect(request, room_id)


@router.get("/relay/webcast/rooms/{room_id}/connect")
async def relay_rooms_connect(request: Request, room_id: str) -> Response:
    return await _connect(request, room_id)


# ---- the push socket ----


async def _refuse(websocket: WebSocket, status: int, message: str) -> None:
    """Refuse the handshake as TikTok's push server does: an HTTP status and a `Handshake-Msg`."""
    await websocket.send_denial_response(Response(b"", status_code=status, headers={"Handshake-Msg": message}))


async def _read_client(websocket: WebSocket, entered: asyncio.Event) -> None:
    seq = 0
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data and client_frame_type(data) == "im_enter_room":
                seq += 1
                await websocket.send_bytes(enter_room_response(seq))
                entered.set()
            # Heartbeats and acks need no answer: the relay's own upstream socket does TikTok's.


async def _forward(
    websocket: WebSocket, joined: Joined, entered: asyncio.Event, client_gone: asyncio.Task[None]
) -> None:
    # As TikTok's push server: the room's frames follow the client's im_enter_room (and our answer to it),
    # or a short grace when a client never sends one.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(entered.wait(), _ENTER_GRACE_S)
    while True:
        item = await joined.consumer.next()
        if isinstance(item, Delivery):
            if item.raw:  # the first fetch's messages came over HTTP: there is no frame to pass on
                await websocket.send_bytes(item.raw)
            continue
        if item.code is CloseCode.STREAM_END:
            # The control message went out; the clients close on it. Give them the time to.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(client_gone), _CLIENT_CLOSE_WAIT_S)
            if not client_gone.done():
                await websocket.close(1000)
            return
        await websocket.close(int(item.code), close_reason(item.code, item.detail))
        return


async def relay_push(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    key = websocket.query_params.get(ROOM_PARAM, "")
    ticket = check_ticket(await ticket_secret(svc), key, websocket.query_params.get(TICKET_PARAM, ""), admit.now_ms())
    if ticket is None:
        await _refuse(websocket, 403, "invalid or expired relay ticket")
        return
    joined = await relay_of(websocket).join(key, label="relay-client", since_ms=ticket.issued_ms)
    if isinstance(joined, Ending):
        await _refuse(websocket, HTTP_STATUS.get(joined.code, 502), close_reason(joined.code, joined.detail))
        return
    try:
        offered = list(websocket.scope.get("subprotocols", []))
        options = f"ping-interval={PING_INTERVAL_S}".encode()
        await websocket.accept(subprotocol=offered[0] if offered else None, headers=[(b"handshake-options", options)])
        entered = asyncio.Event()
        client_gone = asyncio.create_task(_read_client(websocket, entered))
        forward = asyncio.create_task(_forward(websocket, joined, entered, client_gone))
        try:
            await asyncio.wait({forward, client_gone}, return_when=asyncio.FIRST_COMPLETED)
            if forward.done() and not client_gone.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(client_gone), 1.0)
        finally:
            for task in (forward, client_gone):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                    await task
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        relay_of(websocket).leave(joined)


router.add_api_websocket_route(PUSH_PATH, relay_push, name="relay_push")
