"""The real upstream socket (relay/tiktok.py) against a real `ttsign emulate` process: it opens the push socket
with the ttwid cookie and the identity's UA, enters the room, sends heartbeats, acks every frame that asks,
decodes the scenario's messages in order, and reports what TikTok refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.harness import ROOT, EmulatorHandle, start_emulator, stop_cleanly
from ttsign.relay.close_codes import CloseCode
from ttsign.relay.events import event_of
from ttsign.relay.tiktok import TikTokLink, TikTokUpstream, heartbeat_interval
from ttsign.relay.upstream import OpenFailure
from ttsign.service.connect import Connected
from ttsign.signing import default_profile
from ttsign.upstream.refusals import Refusal, RefusalCode

pytestmark = pytest.mark.timeout(60)

SCENARIO: dict[str, Any] = yaml.safe_load((ROOT / "src/ttsign/emulator/scenarios/default.yaml").read_text())
UA = default_profile(None).user_agent


class StubConnect:
    """Stands in for the connect use case: the emulator's stub-sign answer as a `Connected` (or a refusal)."""

    def __init__(self, emu: EmulatorHandle, refusal: Refusal | None = None) -> None:
        self.emu = emu
        self.refusal = refusal
        self.default_profile = default_profile(None)

    async def connect(self, room_id: str | None = None, **_: Any) -> Connected | Refusal:
        if self.refusal is not None:
            return self.refusal
        room = SCENARIO["streamer"]["room_id"]
        response = httpx.get(f"{self.emu.url}/webcast/fetch", params={"room_id": room}, timeout=10)
        response.raise_for_status()
        ttwid = response.headers["x-set-tt-cookie"].split(";")[0].removeprefix("ttwid=")
        return Connected(
            payload=response.content, ttwid=ttwid, room_id=room, request_id="test", profile_name="chrome", user_agent=UA
        )


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    scenario = {**SCENARIO, "stub_sign": True}
    scenario["websocket"] = {**scenario["websocket"], "strict": {"require_cookie": "ttwid"}}
    handle = start_emulator(scenario, strict=True, tls=False)
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle) -> None:
    scenario = {**SCENARIO, "stub_sign": True}
    httpx.post(f"{emu.url}/__emu/scenario", json=scenario, timeout=10).raise_for_status()
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


async def read_all(link: TikTokLink) -> list[dict[str, Any]]:
    events = []
    async for batch in link.batches():
        events += [e for e in map(event_of, batch.messages) if e is not None]
        if events and events[-1]["type"] == "WebcastControlMessage":
            break
    await link.close()
    return events


async def test_the_socket_relays_the_scenario_and_speaks_the_protocol(emu: EmulatorHandle) -> None:
    link = await TikTokUpstream(StubConnect(emu)).open("emu_streamer")  # type: ignore[arg-type]
    assert isinstance(link, TikTokLink), link
    assert [m.method for m in link.initial] == ["WebcastRoomUserSeqMessage"]
    events = await read_all(link)
    ids = [int(e["data"]["common"]["msgId"]) for e in events]
    assert ids == [step["id"] for step in SCENARIO["timeline"]]
    assert events[0]["data"]["comment"] == "hello from the emulator"
    handshake = emu.log("ws_handshake")[0]
    assert handshake["user_agent"] == UA
    assert handshake["ttwid_issued"] is True
    received = [(e["payload_type"], e["decoded"]) for e in emu.log("ws_recv")]
    assert received[0][0] == "hb" and received[1][0] == "im_enter_room"
    assert received[1][1]["room_id"] == SCENARIO["streamer"]["room_id"]
    sent_ext = [e["internal_ext"] for e in emu.log("ws_sent") if e["payload_type"] == "msg"]
    acked = [d["internal_ext"] for kind, d in received if kind == "ack"]
    assert acked == sent_ext  # every pushed frame acked, in order


async def test_heartbeats_keep_coming_at_the_servers_interval(emu: EmulatorHandle) -> None:
    # A long pause in the timeline: the socket stays up on heartbeats alone (ping-interval=1 in the scenario).
    timeline = [{"id": 11, "after": 0.0, "type": "chat", "user": "u1", "content": "x"}]
    httpx.patch(f"{emu.url}/__emu/scenario", json={"timeline": timeline, "end": {"close": None}}, timeout=10)
    link = await TikTokUpstream(StubConnect(emu)).open("emu_streamer")  # type: ignore[arg-type]
    assert isinstance(link, TikTokLink)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        beats = [e for e in emu.log("ws_recv") if e["payload_type"] == "hb"]
        if len(beats) >= 3:
            break
        await asyncio.sleep(0.2)
    await link.close()
    assert [b["decoded"]["seq"] for b in beats[:3]] == [1, 2, 3]


async def test_tiktok_closing_the_socket_ends_the_batches(emu: EmulatorHandle) -> None:
    httpx.patch(f"{emu.url}/__emu/scenario", json={"end": {"close": 4001, "reason": "bye"}}, timeout=10)
    timeline = [{"id": 11, "after": 0.0, "type": "chat", "user": "u1", "content": "x"}]
    httpx.patch(f"{emu.url}/__emu/scenario", json={"timeline": timeline}, timeout=10)
    link = await TikTokUpstream(StubConnect(emu)).open("emu_streamer")  # type: ignore[arg-type]
    assert isinstance(link, TikTokLink)
    batches = [batch async for batch in link.batches()]
    assert len(batches) == 1
    assert link.close_code == 4001


async def test_a_refused_handshake_is_an_open_failure(emu: EmulatorHandle) -> None:
    reject = {"status": 400, "handshake_msg": "DEVICE_BLOCKED"}
    websocket = {**SCENARIO["websocket"], "reject": reject}
    httpx.patch(f"{emu.url}/__emu/scenario", json={"websocket": websocket}, timeout=10)
    outcome = await TikTokUpstream(StubConnect(emu)).open("emu_streamer")  # type: ignore[arg-type]
    assert outcome == OpenFailure(CloseCode.WEBCAST_FETCH_ERROR, "push socket refused: HTTP 400 DEVICE_BLOCKED")


@pytest.mark.parametrize(
    ("code", "close"),
    [
        (RefusalCode.ROOM_NOT_LIVE, CloseCode.NOT_LIVE),
        (RefusalCode.ROOM_NOT_FOUND, CloseCode.NOT_LIVE),
        (RefusalCode.DEVICE_BLOCKED, CloseCode.WEBCAST_FETCH_ERROR),
    ],
)
async def test_connect_refusals_become_close_codes(emu: EmulatorHandle, code: RefusalCode, close: CloseCode) -> None:
    outcome = await TikTokUpstream(StubConnect(emu, Refusal(code))).open("x")  # type: ignore[arg-type]
    assert outcome == OpenFailure(close, str(code))


def test_heartbeat_interval() -> None:
    assert heartbeat_interval("ping-interval=1", 10_000) == 1.0
    assert heartbeat_interval(None, 5_000) == 5.0
    assert heartbeat_interval(None, 0) == 10.0
    assert heartbeat_interval("ping-interval=0.01", 0) == 1.0  # never a flood
