"""The relay as a connect strategy's door (service/strategies/relay.py): opens the room's relay socket and
answers a fetch result that points the client at ttsign's own push socket.

The push socket's address is the one the client used to reach this server (its Host, http → ws, https →
wss), which only the request knows: `PushAddress` keeps it in a context variable for the strategy, which
runs inside the client's request.
"""

from __future__ import annotations

import contextvars
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from ttsign.api.access import scope_header
from ttsign.api.relay import admit
from ttsign.relay import CloseCode, Ending, Relay
from ttsign.relay.client_mode import PUSH_PATH, issue_ticket, relay_fetch_result, room_key
from ttsign.service.strategies import Connected, Target
from ttsign.upstream.refusals import Refusal, RefusalCode

PUSH_SERVER: contextvars.ContextVar[str] = contextvars.ContextVar("ttsign_relay_push_server", default="")


def push_server_of(scope: Scope) -> str:
    host = scope_header(scope, b"host") or "{}:{}".format(*scope.get("server") or ("127.0.0.1", 80))
    scheme = "wss" if scope.get("scheme") == "https" else "ws"
    return f"{scheme}://{host}{PUSH_PATH}"


class PushAddress:
    """Remembers, for the request being served, where its client would find this server's push socket."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        token = PUSH_SERVER.set(push_server_of(scope))
        try:
            await self._app(scope, receive, send)
        finally:
            PUSH_SERVER.reset(token)


@dataclass(frozen=True)
class ClientRoom:
    payload: bytes
    room_id: str


async def open_client_room(relay: Relay, secret: bytes, key: str, push_server: str) -> ClientRoom | Ending:
    """Open the room's relay socket and make the fetch result (with a fresh ticket) a client connects with.

    The ticket is dated before the socket opens: the client's socket is replayed the room's frames from that
    time on, and TikTok may push the first ones while the room is still opening (a client once missed the
    scenario's first chat when the ticket was dated after)."""
    asked = admit.now_ms()
    opened = await relay.warm(key)
    if isinstance(opened, Ending):
        return opened
    payload = relay_fetch_result(push_server, key, issue_ticket(secret, key, asked), now_ms=asked)
    return ClientRoom(payload, opened.room_id)


def refusal_of(ending: Ending) -> Refusal:
    """A relay that cannot open the room, as the refusal the connect dialects already render."""
    if ending.detail in RefusalCode.__members__.values():
        return Refusal(RefusalCode(ending.detail))
    if ending.code is CloseCode.NOT_LIVE:
        return Refusal(RefusalCode.ROOM_NOT_LIVE)
    return Refusal(RefusalCode.TRANSPORT_ERROR, ending.detail or "the relay could not open the room")


class RelayClientDoor:
    def __init__(self, relay: Relay, secret: Callable[[], Awaitable[bytes]]) -> None:
        self._relay = relay
        self._secret = secret

    async def open_for_client(self, target: Target, request_id: str) -> Connected | Refusal:
        push_server = PUSH_SERVER.get()
        if not push_server:
            return Refusal(RefusalCode.NO_STRATEGY, "the relay strategy serves only requests to this server")
        key = room_key(target.room_id) if target.room_id else str(target.unique_id)
        room = await open_client_room(self._relay, await self._secret(), key, push_server)
        if isinstance(room, Ending):
            return refusal_of(room)
        return Connected(
            payload=room.payload,
            ttwid=f"relay-{secrets.token_hex(8)}",  # the relay's socket does not read it; clients need one
            room_id=room.room_id,
            request_id=request_id,
            profile_name="relay",
            strategy="relay",
        )
