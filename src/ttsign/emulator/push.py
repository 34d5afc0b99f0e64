"""The push WebSocket (/webcast/im/ws_proxy/ws_reuse_supplement/): handshake checks and one session per client.

Server frames: ``msg`` frames carrying a ProtoMessageFetchResult (gzip + header compress_type=gzip when the
client asked for compress=gzip), ``im_enter_room_resp`` after the client enters. Client frames (``im_enter_room``,
``hb``, ``ack``) are decoded and logged. No WebSocket-level pings are sent (Node never answers them).
The timeline starts when the client enters the room, or after a grace period if it never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import time
from typing import Any

from starlette.responses import Response
from starlette.websockets import WebSocket

from ttsign.emulator import faults
from ttsign.emulator.era import SocketVerdict, socket_verdict
from ttsign.emulator.log import header_names, redact_query
from ttsign.emulator.messages import MessageFactory, ends_stream, pushed_result
from ttsign.emulator.rooms import streamer_of_room
from ttsign.emulator.scenario import Step
from ttsign.emulator.state import Emulator
from ttsign.emulator.strict import check_handshake, missing_route_params
from ttsign.proto import webcast_pb2 as pb

_session_ids = itertools.count(1)


def _decode_client_payload(payload_type: str, payload: bytes) -> dict[str, Any]:
    try:
        if payload_type == "hb":
            hb = pb.HeartBeatMessage.FromString(payload)
            return {"room_id": str(hb.room_id), "seq": hb.send_packet_seq_id}
        if payload_type == "im_enter_room":
            enter = pb.WebcastImEnterRoomMessage.FromString(payload)
            return {
                "room_id": str(enter.room_id),
                "live_id": enter.live_id,
                "identity": enter.identity,
                "cursor": enter.cursor,
                "enter_unique_id": str(enter.enter_unique_id),
            }
    except Exception as exc:
        return {"error": f"undecodable {payload_type}: {type(exc).__name__}"}
    if payload_type == "ack":
        return {"internal_ext": payload.decode("utf-8", "replace")}
    return {"size": len(payload)}


class PushSession:
    def __init__(self, ws: WebSocket, emu: Emulator, compress: bool) -> None:
        self.id = next(_session_ids)
        self.ws = ws
        self.emu = emu
        self.compress = compress
        # The room the client asked for, when the scenario serves it (`rooms`); else the streamer's.
        streamer = streamer_of_room(emu.scenario, ws.query_params.get("room_id", ""))
        self.room_id = (streamer or emu.scenario.streamer).room_id
        self.factory = MessageFactory(emu.scenario, self.room_id)
        self.entered = asyncio.Event()
        self.closed = asyncio.Event()
        self.ending = asyncio.Event()
        self._frames = 0
        self._send_lock = asyncio.Lock()
        self._last_heartbeat = time.monotonic()

    # ---- sending ----

    async def _send_frame(self, frame: pb.WebcastPushFrame, **log: Any) -> bool:
        if self.closed.is_set():
            return False
        async with self._send_lock:
            try:
                await self.ws.send_bytes(frame.SerializeToString())
            except Exception:
                self.closed.set()
                return False
        self.emu.log.add("ws_sent", session=self.id, payload_type=frame.payload_type, log_id=str(frame.log_id), **log)
        return True

    async def push(self, step: Step) -> bool:
        """Send one timeline step as one frame; a stream-end control message starts the clean ending."""
        self._frames += 1
        n = self._frames
        messages = self.factory.messages(step)
        result = pushed_result(messages, n, self.emu.scenario.websocket.need_ack)
        payload = result.SerializeToString()
        frame = pb.WebcastPushFrame(log_id=9000 + n, seq_id=n, payload_encoding="pb", payload_type="msg")
        if self.compress:
            payload = gzip.compress(payload, mtime=0)
            frame.headers.append(pb.PushHeader(key="compress_type", value="gzip"))
        frame.payload = payload
        sent = await self._send_frame(
            frame,
            msg_ids=[str(m.msg_id) for m in messages],
            methods=[m.method for m in messages],
            internal_ext=result.internal_ext,
            cursor=result.cursor,
            need_ack=result.need_ack,
            gzip=self.compress,
        )
        if sent and ends_stream(step):
            self.ending.set()
        return sent

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed.is_set():
            return
        self.emu.log.add("ws_close", session=self.id, by="server", code=code, reason=reason)
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)
        self.closed.set()

    # ---- receiving ----

    async def _receive_loop(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                if not self.closed.is_set():
                    self.emu.log.add("ws_close", session=self.id, by="client", code=message.get("code"))
                self.closed.set()
                return
            data = message.get("bytes")
            if data is None:
                self.emu.log.add("ws_recv", session=self.id, payload_type="text", size=len(message.get("text") or ""))
                continue
            await self._on_frame(data)

    async def _on_frame(self, data: bytes) -> None:
        try:
            frame = pb.WebcastPushFrame.FromString(data)
        except Exception:
            self.emu.log.add("ws_recv", session=self.id, payload_type="undecodable", size=len(data))
            return
        decoded = _decode_client_payload(frame.payload_type, frame.payload)
        self.emu.log.add(
            "ws_recv",
            session=self.id,
            payload_type=frame.payload_type,
            payload_encoding=frame.payload_encoding,
            log_id=str(frame.log_id),
            decoded=decoded,
        )
        if frame.payload_type == "hb":
            self._last_heartbeat = time.monotonic()
        if frame.payload_type == "im_enter_room":
            self._frames += 1
            resp = pb.WebcastPushFrame(
                log_id=9000 + self._frames,
                seq_id=self._frames,
                payload_encoding="pb",
                payload_type="im_enter_room_resp",
            )
            await self._send_frame(resp)
            self.entered.set()

    # ---- lifecycle ----

    async def _wait(self, delay: float) -> bool:
        """Sleep unless the client closes first; True if the session is still open."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), delay)
        return not self.closed.is_set()

    async def _play(self) -> None:
        grace = self.emu.scenario.websocket.enter_room_grace_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.entered.wait(), grace)
        self.emu.log.add("timeline_start", session=self.id, entered=self.entered.is_set())
        queued = list(self.emu.pending)
        self.emu.pending.clear()
        for step in queued:
            await self.push(step)
        for step in self.emu.scenario.timeline:
            if not await self._wait(step.after) or not await self.push(step) or self.ending.is_set():
                return

    async def _watch_heartbeats(self, limit: float, code: int) -> None:
        while not self.closed.is_set():
            idle = time.monotonic() - self._last_heartbeat
            if idle >= limit:
                self.emu.log.add("heartbeat_timeout", session=self.id, idle_s=round(idle, 3))
                await self.close(code, "heartbeat timeout")
                return
            await self._wait(limit - idle)

    async def run(self) -> None:
        receiver = asyncio.create_task(self._receive_loop())
        opts = self.emu.scenario.websocket
        watchdog = None
        if opts.heartbeat_timeout_s is not None:
            watchdog = asyncio.create_task(
                self._watch_heartbeats(opts.heartbeat_timeout_s, opts.heartbeat_timeout_close)
            )
        try:
            await self._play()
            end = self.emu.scenario.end
            if end.close is not None and not self.ending.is_set() and not self.closed.is_set():
                await self.close(end.close, end.reason)
                return
            ending = asyncio.create_task(self.ending.wait())
            closed = asyncio.create_task(self.closed.wait())
            await asyncio.wait({ending, closed, receiver}, return_when=asyncio.FIRST_COMPLETED)
            ending.cancel()
            closed.cancel()
            if self.ending.is_set() and await self._wait(end.wait_client_close_s):
                await self.close(end.then_close)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if not receiver.done():
                # Give the close handshake a moment to deliver the client's close frame before we stop reading.
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(receiver), 1.0)
                receiver.cancel()
                with contextlib.suppress(BaseException):
                    await receiver


def _wants_gzip(emu: Emulator, ws: WebSocket) -> bool:
    mode = emu.scenario.websocket.gzip
    if mode != "auto":
        return mode == "always"
    return "gzip" in ws.query_params.getlist("compress")


async def _deny(ws: WebSocket, emu: Emulator, status: int, message: str, failed: list[str]) -> None:
    emu.log.add("ws_reject", path=ws.url.path, status=status, handshake_msg=message, failed=failed)
    await ws.send_denial_response(Response(b"", status_code=status, headers={"Handshake-Msg": message}))


def _era_verdict(ws: WebSocket, emu: Emulator) -> SocketVerdict | None:
    """The 2026-09 handshake rules (ttsign.emulator.era), the connect budget last: a refused handshake
    spends none of it."""
    ttwid = ws.cookies.get("ttwid", "")
    versions = emu.scenario.era_2026_09.socket_gnarly_versions
    verdict = socket_verdict(
        ws.query_params.multi_items(),
        ws.headers.get("user-agent", ""),
        ws.cookies,
        ttwid_issued=emu.cookies.is_issued(ttwid),
        gnarly_versions=frozenset(versions) if versions is not None else None,
    )
    if verdict is None and not emu.socket_connects.admit(ttwid, emu.scenario.era_2026_09.socket_connects_per_hour):
        verdict = SocketVerdict(415, "DEVICE_BLOCKED", "connect_budget")
    return verdict


async def push_endpoint(ws: WebSocket) -> None:
    emu: Emulator = ws.app.state.emu
    opts = emu.scenario.websocket
    raw_query = ws.scope.get("query_string", b"").decode("latin-1")
    offered = list(ws.scope.get("subprotocols", []))
    emu.log.add(
        "ws_handshake",
        path=ws.url.path,
        query=redact_query(ws.query_params.multi_items()),
        headers=header_names(ws.headers),
        user_agent=ws.headers.get("user-agent", ""),
        cookies=sorted(ws.cookies),
        ttwid_issued=emu.cookies.is_issued(ws.cookies.get("ttwid")),
        subprotocols=offered,
        route_params_missing=missing_route_params(raw_query, opts.route_params),
    )
    client = ws.scope.get("client")
    fault = emu.scenario.faults.for_route("ws_handshake")
    try:
        outcome, response = await faults.apply(
            fault, emu.hit("ws_handshake"), lambda: emu.abort_client(client), emu.stopping
        )
    except faults.AbortConnection as exc:
        emu.log.add("fault", route="ws_handshake", fault=str(exc))
        return
    if response is not None:
        emu.log.add("fault", route="ws_handshake", fault=outcome)
        await ws.send_denial_response(response)
        return
    if opts.reject is not None:
        await _deny(ws, emu, opts.reject.status, opts.reject.handshake_msg, ["scenario_reject"])
        return
    if emu.since_2026_09 and emu.strict:
        verdict = _era_verdict(ws, emu)
        if verdict is not None:
            await _deny(ws, emu, verdict.status, verdict.message, [verdict.check])
            return
    checks = check_handshake(
        raw_query,
        ws.cookies,
        emu.cookies,
        require_cookie=opts.strict.require_cookie,
        route_params=opts.route_params,
        require_route_params_echo=opts.strict.require_route_params_echo,
    )
    emu.log.add("ws_strict_check", path=ws.url.path, enforced=emu.strict, **checks.as_log())
    if not checks.ok and emu.strict:
        await _deny(ws, emu, 400, "DEVICE_BLOCKED", [name for name, _ in checks.failures])
        return
    interval = opts.ping_interval_s
    options = f"ping-interval={int(interval) if interval.is_integer() else interval}"
    await ws.accept(subprotocol=offered[0] if offered else None, headers=[(b"handshake-options", options.encode())])
    session = PushSession(ws, emu, _wants_gzip(emu, ws))
    emu.log.add(
        "ws_open",
        session=session.id,
        gzip=session.compress,
        subprotocol=offered[0] if offered else None,
        room_id=session.room_id,
    )
    emu.sessions.add(session)
    try:
        await session.run()
    finally:
        emu.sessions.discard(session)
