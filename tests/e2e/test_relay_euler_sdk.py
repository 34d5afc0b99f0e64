"""Issue 14 items 1-2, end to end: the real Euler WebSocket SDK (@eulerstream/euler-websocket-sdk, from npm)
consumes a real `ttsign serve`, which opens the room's socket on a real `ttsign emulate` (strict, 2026-09).

The SDK builds the URL (root path and query, as against Euler), names the close codes and decodes the raw
frames. Proven here: the scenario's chat lines and gifts arrive in order with Euler's field names; many
consumers of one room share one TikTok socket; raw frames decode with the SDK; and the failures close with
Euler's codes (4400 bad options, 4401 bad key, 4404 not live, 4500 TikTok closing the socket for good).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.harness import ROOT, EmulatorHandle, Proc, serve_argv, start_emulator, stop_cleanly
from tests.e2e.relay_consumers import (
    EulerConsumer,
    chat_and_gifts,
    euler_sdk_missing,
    expected_chat_and_gifts,
)
from tests.e2e.session_log import wait_for_log

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

WRONG_KEY = "tts_00000000_wrong"
SCENARIO: dict[str, Any] = yaml.safe_load((ROOT / "src/ttsign/emulator/scenarios/default.yaml").read_text())


@pytest.fixture(scope="module", autouse=True)
def sdk_installed() -> None:
    reason = euler_sdk_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator(SCENARIO, strict=True, tls=False)
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("relay-server")
    env = {
        "TTSIGN_STORE_PATH": str(state / "ttsign.sqlite3"),
        "TTSIGN_CONTACT_EMAIL": "e2e-operator@example.org",
        "TTSIGN_BREAKER_FAILURE_THRESHOLD": "1000",
        "TTSIGN_RELAY_GRACE_S": "0.2",
        "TTSIGN_RELAY_RECONNECT_ATTEMPTS": "1",
        "TTSIGN_RELAY_RECONNECT_BACKOFF_S": "0.1",
    }
    proc = Proc(serve_argv(emu.url), name="server", env=env).start()
    ready = proc.wait_ready()
    yield str(ready["url"])
    stderr = stop_cleanly(proc)
    assert "Traceback" not in stderr
    assert WRONG_KEY not in stderr  # no key reaches the log (uvicorn logs each socket's path), not even a wrong one


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle) -> None:
    httpx.post(f"{emu.url}/__emu/scenario", json=SCENARIO, timeout=10).raise_for_status()
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


@pytest.fixture
def consumers() -> Iterator[list[EulerConsumer]]:
    started: list[EulerConsumer] = []
    yield started
    for consumer in started:
        consumer.stop()


def test_the_sdk_receives_the_scenarios_chat_and_gifts_in_order(server: str, consumers: list[EulerConsumer]) -> None:
    consumer = EulerConsumer(server)
    consumers.append(consumer)
    close = consumer.close_line()
    assert (close["code"], close["name"], close["reason"]) == (4005, "STREAM_END", "TikTok stream ended")
    messages = consumer.messages()
    assert [m["type"] for m in messages[:2]] == ["workerInfo", "roomInfo"]
    assert messages[1]["data"]["roomId"] == SCENARIO["streamer"]["room_id"]
    assert chat_and_gifts(messages) == expected_chat_and_gifts(SCENARIO["timeline"])
    kinds = [m["type"] for m in messages[2:]]
    for kind in ("WebcastLikeMessage", "WebcastMemberMessage", "WebcastSocialMessage", "WebcastRoomUserSeqMessage"):
        assert kind in kinds
    assert kinds[-1] == "WebcastControlMessage"
    gift = next(m["data"] for m in messages if m["type"] == "WebcastGiftMessage")
    assert gift["user"]["uniqueId"] == SCENARIO["users"]["u2"]["unique_id"]
    assert gift["giftId"] == SCENARIO["timeline"][1]["gift"]["id"]


def test_consumers_of_one_room_share_one_tiktok_socket(
    emu: EmulatorHandle, server: str, consumers: list[EulerConsumer]
) -> None:
    # Step mode: the timeline waits for the test, so every consumer is in before the first event.
    emu.patch_scenario({"timeline": []})
    consumers += [EulerConsumer(server) for _ in range(3)]
    for consumer in consumers:
        consumer.wait_for(lambda line: line.get("type") == "roomInfo")
    wait_for_log(emu, lambda log: any(e["kind"] == "timeline_start" for e in log))
    timeline = SCENARIO["timeline"]
    emu.push(timeline)
    for consumer in consumers:
        assert consumer.close_line()["code"] == 4005
        assert chat_and_gifts(consumer.messages()) == expected_chat_and_gifts(timeline)
    assert len(emu.log("ws_open")) == 1  # one TikTok socket for three consumers


def test_raw_frames_decode_with_the_sdk(server: str, consumers: list[EulerConsumer]) -> None:
    consumer = EulerConsumer(server, features={"rawMessages": True})
    consumers.append(consumer)
    assert consumer.close_line()["code"] == 4005
    assert [m["type"] for m in consumer.messages()[:2]] == ["workerInfo", "roomInfo"]
    raw = consumer.messages("raw")
    assert chat_and_gifts(raw) == expected_chat_and_gifts(SCENARIO["timeline"])
    assert raw[-1]["type"] == "WebcastControlMessage"


@pytest.mark.parametrize(
    ("options", "code", "name"),
    [
        ({"features": {"closeInactiveWebSocketAfter": "5"}}, 4400, "INVALID_OPTIONS"),
        ({"unique_id": "not a valid id"}, 4400, "INVALID_OPTIONS"),
        ({"api_key": WRONG_KEY}, 4401, "INVALID_AUTH"),
    ],
)
def test_bad_options_and_keys_close_with_eulers_codes(
    emu: EmulatorHandle, server: str, consumers: list[EulerConsumer], options: dict[str, Any], code: int, name: str
) -> None:
    consumer = EulerConsumer(server, **options)
    consumers.append(consumer)
    close = consumer.close_line()
    assert (close["code"], close["name"]) == (code, name)
    assert not consumer.messages()
    assert not emu.log("ws_open")  # refused before TikTok was asked


def test_a_room_that_is_not_live_closes_4404(emu: EmulatorHandle, server: str, consumers: list[EulerConsumer]) -> None:
    # A streamer no earlier test connected (the connect service remembers a live room for a few seconds).
    streamer = {**SCENARIO["streamer"], "unique_id": "offline_streamer"}
    emu.patch_scenario({"room": {"state": "offline"}, "streamer": streamer})
    consumer = EulerConsumer(server, unique_id="offline_streamer")
    consumers.append(consumer)
    close = consumer.close_line()
    assert (close["code"], close["name"], close["reason"]) == (4404, "NOT_LIVE", "Streamer is not live: room_not_live")


def test_tiktok_closing_the_socket_is_reopened_once_then_closes_4500(
    emu: EmulatorHandle, server: str, consumers: list[EulerConsumer]
) -> None:
    # The socket delivers the chat and gift, then TikTok closes it (4001) on every socket it opens.
    timeline = [step for step in SCENARIO["timeline"] if step["type"] in ("chat", "gift")]
    emu.patch_scenario({"timeline": timeline, "end": {"close": 4001, "reason": "gone"}})
    consumer = EulerConsumer(server)
    consumers.append(consumer)
    close = consumer.close_line()
    assert (close["code"], close["name"]) == (4500, "TIKTOK_CLOSED_CONNECTION")
    assert len(emu.log("ws_open")) == 2  # reopened once (TTSIGN_RELAY_RECONNECT_ATTEMPTS=1)
    # The reopened socket replays the same messages: each reached the consumer once.
    assert chat_and_gifts(consumer.messages()) == expected_chat_and_gifts(timeline)
