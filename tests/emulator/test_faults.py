"""Fault injection, per route, switched at runtime through PATCH /__emu/scenario."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from ttsign.emulator.faults import CAPTCHA_HTML
from ttsign.proto import webcast_pb2 as pb

ROOM = "7390000000000000001"
FETCH = f"/webcast/im/fetch/?room_id={ROOM}"


async def set_faults(emu, faults: dict) -> None:
    response = await emu.http.patch("/__emu/scenario", json={"faults": faults})
    assert response.status_code == 200, response.text


async def test_latency_is_added(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    await set_faults(emu, {"room_info": {"latency_ms": 300}})
    started = time.monotonic()
    response = await emu.http.get("/webcast/room/info/", params={"room_id": ROOM})
    assert time.monotonic() - started >= 0.3
    assert response.json()["data"]["id_str"] == ROOM
    assert (await emu.log("http"))[-1]["fault"] == "latency"


async def test_status_garbled_captcha_empty(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    await set_faults(emu, {"im_fetch": {"status_5xx": 502}})
    assert (await emu.http.get(FETCH)).status_code == 502

    await set_faults(emu, {"im_fetch": {"garbled_protobuf": True}})
    garbled = await emu.http.get(FETCH)
    assert garbled.status_code == 200
    assert garbled.content
    with pytest.raises(Exception):  # noqa: B017 - any DecodeError flavour of the protobuf runtime
        pb.ProtoMessageFetchResult.FromString(garbled.content)

    await set_faults(emu, {"api_live": {"captcha_html": True}})
    captcha = await emu.http.get("/api-live/user/room/", params={"uniqueId": "emu_streamer"})
    assert captcha.headers["content-type"].startswith("text/html")
    assert captcha.text == CAPTCHA_HTML

    await set_faults(emu, {"im_fetch": {"empty_200": True}})
    empty = await emu.http.get(FETCH)
    assert (empty.status_code, empty.content) == (200, b"")

    await set_faults(emu, {})
    healthy = await emu.http.get(FETCH)
    assert pb.ProtoMessageFetchResult.FromString(healthy.content).is_first


async def test_reset_closes_the_connection_without_an_answer(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    await set_faults(emu, {"im_fetch": {"reset": True}})
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await emu.http.get(FETCH)
    entry = [e for e in await emu.log("http") if e["route"] == "im_fetch"][-1]
    assert entry["fault"] == "reset"
    assert entry["status"] is None


async def test_timeout_hangs_then_drops(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    await set_faults(emu, {"im_fetch": {"timeout_s": 5}})
    with pytest.raises(httpx.ReadTimeout):
        await emu.http.get(FETCH, timeout=0.5)
    # Bounded: a short timeout drops the connection once it has passed.
    await set_faults(emu, {"im_fetch": {"timeout_s": 0.3}})
    started = time.monotonic()
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await emu.http.get(FETCH, timeout=5)
    assert 0.3 <= time.monotonic() - started < 4


async def test_times_heals_after_n_requests(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    await set_faults(emu, {"gift_list": {"status_5xx": 503, "times": 2}})
    codes = [(await emu.http.get("/webcast/gift/list/")).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


async def test_websocket_handshake_faults(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    url = emu.url.replace("http://", "ws://") + "/webcast/im/ws_proxy/ws_reuse_supplement/?room_id=" + ROOM
    await set_faults(emu, {"ws_handshake": {"status_5xx": 503}})
    with pytest.raises(InvalidStatus) as excinfo:
        async with connect(url, open_timeout=5):
            pass
    assert excinfo.value.response.status_code == 503
    await set_faults(emu, {"ws_handshake": {"reset": True}})
    with pytest.raises((InvalidHandshake, OSError, EOFError)):
        async with connect(url, open_timeout=5):
            pass


async def test_bad_runtime_scenario_is_refused_and_the_old_one_kept(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    response = await emu.http.patch("/__emu/scenario", json={"faults": {"im_fetch": {"latency_ms": -1}}})
    assert response.status_code == 400
    assert "faults.im_fetch.latency_ms" in response.json()["error"]
    not_json = await emu.http.post("/__emu/scenario", content=b"{nope")
    assert not_json.status_code == 400
    assert (await emu.http.get(FETCH)).status_code == 200


async def test_replacing_the_scenario_resets_fault_counters(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    await set_faults(emu, {"gift_list": {"empty_200": True, "times": 1}})
    assert (await emu.http.get("/webcast/gift/list/")).content == b""
    await set_faults(emu, {"gift_list": {"empty_200": True, "times": 1}})
    assert (await emu.http.get("/webcast/gift/list/")).content == b""


async def test_a_caller_that_leaves_during_latency_is_still_logged(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    await set_faults(emu, {"im_fetch": {"latency_ms": 2000}})  # far past the caller's 0.1 s, even when loaded
    with pytest.raises(httpx.TimeoutException):
        await emu.http.get(FETCH, timeout=0.1)
    for _ in range(200):
        entries = [e for e in await emu.log("http") if e["route"] == "im_fetch"]
        if entries:
            break
        await asyncio.sleep(0.05)
    assert [(e["status"], e["fault"], e.get("client_gone")) for e in entries] == [(None, "latency", True)]


async def test_state_counts_requests_on_arrival(start_emulator) -> None:
    emu = await start_emulator(strict=False)
    await set_faults(emu, {"im_fetch": {"latency_ms": 2000}})
    assert (await emu.http.get("/__emu/state")).json()["hits"] == {}
    pending = asyncio.create_task(emu.http.get(FETCH))
    # Wait for the arrival itself (not a fixed sleep); the answer is 2 s away, so it is still pending.
    for _ in range(100):
        hits = (await emu.http.get("/__emu/state")).json()["hits"]
        if hits:
            break
        await asyncio.sleep(0.01)
    # Received but not answered yet: counted, not logged.
    assert hits == {"im_fetch": 1}
    assert not pending.done()
    assert not [e for e in await emu.log("http") if e["route"] == "im_fetch"]
    await pending
    assert len([e for e in await emu.log("http") if e["route"] == "im_fetch"]) == 1
