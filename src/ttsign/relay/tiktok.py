"""The real upstream: a room's TikTok push socket, opened the way a client opens it.

The connect use case (the configured strategies, identities and budgets) answers with a first fetch result,
the identity's ttwid and its User-Agent; the socket is opened with that cookie and UA, a heartbeat and
`im_enter_room` go out at once (as the web player does) and a heartbeat every interval after, and every
frame that asks for an ack is acked. No WebSocket-level pings: TikTok's push server does not need them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ttsign.relay.address import socket_url
from ttsign.relay.close_codes import CloseCode
from ttsign.relay.frames import (
    FetchStart,
    FrameError,
    PushedBatch,
    ack_frame,
    decode_frame,
    enter_room_frame,
    fetch_start,
    heartbeat_frame,
)
from ttsign.relay.upstream import OpenFailure
from ttsign.service.connect import Connected, ConnectService, InvalidInput
from ttsign.signing import BrowserProfile, ProfileError, profile_from_user_agent
from ttsign.upstream.refusals import Refusal, RefusalCode

logger = logging.getLogger(__name__)

_NOT_LIVE = frozenset({RefusalCode.ROOM_NOT_LIVE, RefusalCode.ROOM_NOT_FOUND})
_NOT_TO_TIKTOK = frozenset({"relay"})
_PING_INTERVAL = re.compile(r"ping-interval=([0-9.]+)")
MAX_FRAME_BYTES = 4 * 1024 * 1024


def heartbeat_interval(handshake_options: str | None, heartbeat_ms: int) -> float:
    """Seconds between heartbeats: the server's `Handshake-Options: ping-interval=N`, else the fetch
    result's heartbeat duration, else 10 s; never under 1 s or over 60 s."""
    match = _PING_INTERVAL.search(handshake_options or "")
    seconds = float(match.group(1)) if match else (heartbeat_ms / 1000 if heartbeat_ms > 0 else 10.0)
    return min(60.0, max(1.0, seconds))


def _profile_of(connected: Connected, fallback: BrowserProfile) -> BrowserProfile:
    """The browser the identity presents: its User-Agent's profile (the socket must show the same browser)."""
    if not connected.user_agent:
        return fallback
    try:
        return profile_from_user_agent(connected.user_agent)
    except ProfileError:
        return fallback


class TikTokLink:
    """One open push socket: heartbeats run beside it; `batches` reads and acks."""

    def __init__(self, ws: ClientConnection, room_id: str, start: FetchStart, interval_s: float) -> None:
        self.room_id = room_id
        self.initial = start.messages
        self._ws = ws
        self._room = int(room_id)
        self._cursor = start.cursor
        self._interval_s = interval_s
        self._heartbeats: asyncio.Task[None] | None = None
        self.close_code: int | None = None

    async def enter(self) -> None:
        await self._ws.send(heartbeat_frame(self._room, 1))
        await self._ws.send(enter_room_frame(self._room, self._cursor))
        self._heartbeats = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        seq = 1
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self._interval_s)
                seq += 1
                await self._ws.send(heartbeat_frame(self._room, seq))

    async def batches(self) -> AsyncIterator[PushedBatch]:
        try:
            async for message in self._ws:
                if isinstance(message, str):
                    continue
                try:
                    frame = decode_frame(message)
                except FrameError as exc:
                    logger.warning("room %s: skipped an unreadable frame (%s)", self.room_id, exc)
                    continue
                if not isinstance(frame, PushedBatch):
                    continue
                if frame.need_ack:
                    with contextlib.suppress(ConnectionClosed):
                        await self._ws.send(ack_frame(frame))
                yield frame
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code

    async def close(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.cancel()
        await self._ws.close()
        self.close_code = self._ws.close_code


class TikTokUpstream:
    def __init__(self, connect_service: ConnectService, *, open_timeout_s: float = 10.0) -> None:
        self._connect = connect_service
        self._open_timeout_s = open_timeout_s

    async def open(self, unique_id: str) -> TikTokLink | OpenFailure:
        request_id = f"relay-{secrets.token_hex(6)}"
        try:
            # A room asked for by id (relay mode: the clients know the room id) has the key "room:<id>".
            room_id = unique_id.removeprefix("room:") if unique_id.startswith("room:") else None
            outcome = await self._connect.connect(
                room_id,
                unique_id=None if room_id else unique_id,
                request_id=request_id,
                without=_NOT_TO_TIKTOK,  # the relay strategy would point the relay at itself
            )
        except InvalidInput as exc:
            return OpenFailure(CloseCode.INVALID_OPTIONS, str(exc))
        if isinstance(outcome, Refusal):
            code = CloseCode.NOT_LIVE if outcome.code in _NOT_LIVE else CloseCode.WEBCAST_FETCH_ERROR
            return OpenFailure(code, str(outcome.code))
        return await self._open_socket(outcome)

    async def _open_socket(self, connected: Connected) -> TikTokLink | OpenFailure:
        try:
            start = fetch_start(connected.payload)
        except FrameError as exc:
            return OpenFailure(CloseCode.WEBCAST_FETCH_ERROR, str(exc))
        profile = _profile_of(connected, self._connect.default_profile)
        try:
            ws = await connect(
                socket_url(start, connected.room_id, profile.browser_query()),
                additional_headers={"Cookie": f"ttwid={connected.ttwid}"},
                user_agent_header=profile.user_agent,
                ping_interval=None,  # the push server speaks heartbeats frames, not WebSocket pings
                max_size=MAX_FRAME_BYTES,
                open_timeout=self._open_timeout_s,
                compression=None,
            )
        except InvalidStatus as exc:
            blocked = exc.response.headers.get("Handshake-Msg", "")
            detail = f"push socket refused: HTTP {exc.response.status_code} {blocked}".strip()
            return OpenFailure(CloseCode.WEBCAST_FETCH_ERROR, detail)
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            return OpenFailure(CloseCode.WEBCAST_FETCH_ERROR, f"push socket unreachable: {type(exc).__name__}")
        options = ws.response.headers.get("Handshake-Options") if ws.response is not None else None
        interval = heartbeat_interval(options, start.heartbeat_ms)
        link = TikTokLink(ws, connected.room_id, start, interval)
        try:
            await link.enter()
        except ConnectionClosed:
            return OpenFailure(CloseCode.TIKTOK_CLOSED_CONNECTION, "closed before entering the room")
        return link

    async def wanted_elsewhere(self, unique_id: str) -> bool:
        return False  # one process: nobody else

    async def close(self) -> None:
        return None
