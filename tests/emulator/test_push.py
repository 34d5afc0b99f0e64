"""The push WebSocket, driven with the `websockets` client library the way the real clients drive it."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ttsign.proto import webcast_pb2 as pb

ROOM = "7390000000000000001"
WS = "/webcast/im/ws_proxy/ws_reuse_supplement/"

SCENARIO: dict[str, Any] = {
    "users": {"u1": {"id": 1001, "unique_id": "viewer1"}},
    "websocket": {"ping_interval_s": 1, "route_params": {"wrss": "emu-wrss"}},
    "timeline": [
        {"id": 11, "type": "chat", "user": "u1", "content": "hello"},
        {"id": 12, "after": 0.05, "batch": [{"id": 21, "type": "like", "count": 2}, {"id": 22, "type": "follow"}]},
        {"id": 99, "after": 0.05, "type": "control", "action": "stream_ended"},
    ],
    "end": {"wait_client_close_s": 1, "then_close": 1000},
}


def ws_url(base: str, compress: bool = True, extra: str = "") -> str:
    query = f"room_id={ROOM}&wrss=emu-wrss&version_code=180800&version_code=270000" + extra
    if compress:
        query += "&compress=gzip"
    return base.replace("http://", "ws://") + WS + "?" + query


def frame(payload_type: str, payload: bytes = b"", log_id: int = 0) -> bytes:
    return pb.WebcastPushFrame(
        payload_type=payload_type, payload_encoding="pb", payload=payload, log_id=log_id
    ).SerializeToString()


def enter_room() -> bytes:
    return frame(
        "im_enter_room",
        pb.WebcastImEnterRoomMessage(room_id=int(ROOM), live_id=12, identity="audience").SerializeToString(),
    )


async def read_frame(ws: ClientConnection) -> pb.WebcastPushFrame:
    data = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(data, bytes)
    return pb.WebcastPushFrame.FromString(data)


def result_of(push: pb.WebcastPushFrame) -> pb.ProtoMessageFetchResult:
    payload = push.payload
    if any(h.key == "compress_type" and h.value == "gzip" for h in push.headers):
        payload = gzip.decompress(payload)
    return pb.ProtoMessageFetchResult.FromString(payload)


async def test_strict_handshake_without_issued_ttwid_is_device_blocked(start_emulator) -> None:
    emu = await start_emulator()
    with pytest.raises(InvalidStatus) as excinfo:
        async with connect(ws_url(emu.url), open_timeout=5):
            pass
    response = excinfo.value.response
    assert response.status_code != 101
    assert response.headers["Handshake-Msg"] == "DEVICE_BLOCKED"
    reject = (await emu.log("ws_reject"))[-1]
    assert reject["failed"] == ["ttwid_cookie"]


async def test_lenient_mode_accepts_and_logs_the_failed_check(start_emulator) -> None:
    emu = await start_emulator(SCENARIO, strict=False)
    async with connect(ws_url(emu.url), open_timeout=5) as ws:
        await ws.send(enter_room())
        assert (await read_frame(ws)).payload_type == "im_enter_room_resp"
    check = (await emu.log("ws_strict_check"))[-1]
    assert (check["ok"], check["enforced"], check["failed"]) == (False, False, ["ttwid_cookie"])


async def test_full_session_frames_acks_heartbeats_and_clean_close(start_emulator) -> None:
    emu = await start_emulator(SCENARIO)
    ttwid = await emu.ttwid()
    headers = {"Cookie": f"tt-target-idc=useast1a; ttwid={ttwid};", "User-Agent": "Mozilla/5.0 test"}
    async with connect(ws_url(emu.url), additional_headers=headers, subprotocols=["echo-protocol"]) as ws:  # type: ignore[list-item]
        assert ws.response is not None
        assert ws.response.headers["Handshake-Options"] == "ping-interval=1"
        assert ws.subprotocol == "echo-protocol"
        await ws.send(enter_room())
        await ws.send(frame("hb", pb.HeartBeatMessage(room_id=int(ROOM), send_packet_seq_id=1).SerializeToString()))
        first = await read_frame(ws)
        assert first.payload_type == "im_enter_room_resp"
        methods: list[list[str]] = []
        log_ids = []
        while True:
            push = await read_frame(ws)
            assert (push.payload_type, push.payload_encoding) == ("msg", "pb")
            result = result_of(push)
            assert not result.is_first
            assert result.need_ack
            assert push.payload[:3] == b"\x1f\x8b\x08"
            log_ids.append(push.log_id)
            methods.append([m.method for m in result.messages])
            await ws.send(frame("ack", result.internal_ext.encode(), log_id=push.log_id))
            if "WebcastControlMessage" in methods[-1]:
                control = pb.WebcastControlMessage.FromString(result.messages[0].payload)
                assert control.action == pb.CONTROL_ACTION_STREAM_ENDED
                break
        assert methods == [
            ["WebcastChatMessage"],
            ["WebcastLikeMessage", "WebcastSocialMessage"],
            ["WebcastControlMessage"],
        ]
        assert len(set(log_ids)) == len(log_ids)
        assert all(log_ids)
        await ws.close()  # the client ends the session, as both real clients do on stream end
    log = await emu.log()
    acks = [e for e in log if e["kind"] == "ws_recv" and e["payload_type"] == "ack"]
    sent = [e for e in log if e["kind"] == "ws_sent" and e["payload_type"] == "msg"]
    assert [a["log_id"] for a in acks] == [s["log_id"] for s in sent]
    assert [a["decoded"]["internal_ext"] for a in acks] == [s["internal_ext"] for s in sent]
    hb = [e for e in log if e["kind"] == "ws_recv" and e["payload_type"] == "hb"]
    assert hb[0]["decoded"] == {"room_id": ROOM, "seq": 1}
    enter = [e for e in log if e["kind"] == "ws_recv" and e["payload_type"] == "im_enter_room"]
    assert enter[0]["decoded"]["room_id"] == ROOM
    handshake = [e for e in log if e["kind"] == "ws_handshake"][-1]
    assert handshake["route_params_missing"] == []
    assert handshake["ttwid_issued"] is True
    assert [e["by"] for e in log if e["kind"] == "ws_close"] == ["client"]


async def test_no_subprotocol_unless_offered_and_no_gzip_unless_asked(start_emulator) -> None:
    emu = await start_emulator(SCENARIO, strict=False)
    async with connect(ws_url(emu.url, compress=False)) as ws:
        assert ws.subprotocol is None
        assert ws.response is not None
        assert "Sec-WebSocket-Protocol" not in ws.response.headers
        await ws.send(enter_room())
        await read_frame(ws)
        push = await read_frame(ws)
        assert not push.headers
        assert pb.ProtoMessageFetchResult.FromString(push.payload).messages[0].method == "WebcastChatMessage"


async def test_server_closes_with_1000_when_client_ignores_stream_end(start_emulator) -> None:
    emu = await start_emulator(SCENARIO, strict=False)
    async with connect(ws_url(emu.url)) as ws:
        await ws.send(enter_room())
        with pytest.raises(ConnectionClosed) as excinfo:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert excinfo.value.rcvd is not None
    assert excinfo.value.rcvd.code == 1000
    assert [e["by"] for e in await emu.log("ws_close")] == ["server"]


async def test_abnormal_close_after_timeline(start_emulator) -> None:
    scenario = {**SCENARIO, "timeline": SCENARIO["timeline"][:1], "end": {"close": 4001, "reason": "emu abnormal"}}
    emu = await start_emulator(scenario, strict=False)
    async with connect(ws_url(emu.url)) as ws:
        await ws.send(enter_room())
        with pytest.raises(ConnectionClosed) as excinfo:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert excinfo.value.rcvd is not None
    assert (excinfo.value.rcvd.code, excinfo.value.rcvd.reason) == (4001, "emu abnormal")


async def test_scenario_reject_sends_handshake_msg(start_emulator) -> None:
    emu = await start_emulator({"websocket": {"reject": {"status": 200, "handshake_msg": "illegal secret key"}}})
    with pytest.raises(InvalidStatus) as excinfo:
        async with connect(ws_url(emu.url), open_timeout=5):
            pass
    assert excinfo.value.response.status_code == 200
    assert excinfo.value.response.headers["Handshake-Msg"] == "illegal secret key"


async def test_step_mode_push_and_close_hooks(start_emulator) -> None:
    emu = await start_emulator({**SCENARIO, "timeline": []}, strict=False)
    # Pushed before anyone is connected: queued for the next session.
    queued = await emu.http.post("/__emu/push", json={"id": 7, "type": "chat", "user": "u1", "content": "early"})
    assert queued.json() == {"delivered": 0, "queued": 1}
    bad = await emu.http.post("/__emu/push", json={"type": "chat", "user": "ghost", "content": "x"})
    assert bad.status_code == 400
    assert "ghost" in bad.json()["error"]
    async with connect(ws_url(emu.url)) as ws:
        await ws.send(enter_room())
        await read_frame(ws)  # enter-room response
        early = result_of(await read_frame(ws))
        assert early.messages[0].msg_id == 7
        pushed = await emu.http.post("/__emu/push", json=[{"id": 8, "type": "like", "count": 3}])
        assert pushed.json()["delivered"] == 1
        assert result_of(await read_frame(ws)).messages[0].method == "WebcastLikeMessage"
        closed = await emu.http.post("/__emu/close", json={"code": 4005, "reason": "stream end"})
        assert closed.json() == {"closed": 1}
        with pytest.raises(ConnectionClosed) as excinfo:
            await asyncio.wait_for(ws.recv(), 5)
    assert excinfo.value.rcvd is not None
    assert excinfo.value.rcvd.code == 4005


async def test_timeline_starts_after_grace_without_enter_room(start_emulator) -> None:
    scenario = {**SCENARIO, "websocket": {**SCENARIO["websocket"], "enter_room_grace_s": 0.2}}
    emu = await start_emulator(scenario, strict=False)
    async with connect(ws_url(emu.url)) as ws:
        push = await read_frame(ws)
        assert push.payload_type == "msg"
    start = (await emu.log("timeline_start"))[-1]
    assert start["entered"] is False


async def test_optional_heartbeat_timeout_closes_a_silent_session(start_emulator) -> None:
    # Beats 0.1 s apart against a 1 s timeout: a loaded machine may stretch a beat several times over and
    # still not miss one, while a silence of 1 s closes the session.
    scenario = {**SCENARIO, "timeline": [], "websocket": {**SCENARIO["websocket"], "heartbeat_timeout_s": 1.0}}
    emu = await start_emulator(scenario, strict=False)
    async with connect(ws_url(emu.url)) as ws:
        await ws.send(enter_room())
        await read_frame(ws)
        # Heartbeats keep it open...
        for seq in range(1, 4):
            await ws.send(
                frame("hb", pb.HeartBeatMessage(room_id=int(ROOM), send_packet_seq_id=seq).SerializeToString())
            )
            await asyncio.sleep(0.1)
        assert not await emu.log("heartbeat_timeout")
        # ...silence closes it.
        with pytest.raises(ConnectionClosed) as excinfo:
            await asyncio.wait_for(ws.recv(), 5)
    assert excinfo.value.rcvd is not None
    assert excinfo.value.rcvd.code == 4001
    assert len(await emu.log("heartbeat_timeout")) == 1
