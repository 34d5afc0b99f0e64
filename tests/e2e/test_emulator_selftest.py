"""Harness self-test: the real TikTokLive 7.0.1 and tiktok-live-connector 2.5.0 against the emulator alone.

The emulator runs in stub-sign mode (it also answers the sign-server routes), so these tests prove the
emulator, the drivers and the expected-event tables before the real sign server is put in between.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.expected import node_events, python_events
from tests.e2e.harness import ClientRun, EmulatorHandle, run_node_client, run_python_client

pytestmark = pytest.mark.e2e

ROOM = "7390000000000000001"


@pytest.fixture
def stub_scenario(default_scenario: dict[str, Any]) -> dict[str, Any]:
    return {**default_scenario, "stub_sign": True}


def assert_session_log(emu: EmulatorHandle, scenario: dict[str, Any], *, client_close_code: int | None) -> None:
    log = emu.log()
    sent = [e for e in log if e["kind"] == "ws_sent" and e["payload_type"] == "msg"]
    acks = [e for e in log if e["kind"] == "ws_recv" and e["payload_type"] == "ack"]
    assert len(sent) == len(scenario["timeline"])
    assert len({s["log_id"] for s in sent}) == len(sent), "every pushed frame has its own log_id"
    # One ack per pushed frame, echoing its log_id and internal_ext.
    assert sorted((a["log_id"], a["decoded"]["internal_ext"]) for a in acks) == sorted(
        (s["log_id"], s["internal_ext"]) for s in sent
    )
    beats = [e["decoded"] for e in log if e["kind"] == "ws_recv" and e["payload_type"] == "hb"]
    assert beats, "no heartbeat arrived"
    assert beats[0]["seq"] == 1
    assert {b["room_id"] for b in beats} == {ROOM}
    enters = [e["decoded"] for e in log if e["kind"] == "ws_recv" and e["payload_type"] == "im_enter_room"]
    assert [e["room_id"] for e in enters] == [ROOM]
    (handshake,) = [e for e in log if e["kind"] == "ws_handshake"]
    assert handshake["route_params_missing"] == [], "route_params must come back in the WebSocket query"
    assert handshake["ttwid_issued"] is True
    assert [e["ok"] for e in log if e["kind"] == "ws_strict_check"] == [True]
    closes = [(e["by"], e.get("code")) for e in log if e["kind"] == "ws_close"]
    assert closes == [("client", client_close_code)]
    unknown = [e["path"] for e in log if e["kind"] == "http" and e["route"] == "unknown"]
    assert unknown == [], f"the client called routes the emulator does not serve: {unknown}"


def http_calls(emu: EmulatorHandle) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in emu.log("http")]


def assert_ok(run: ClientRun) -> None:
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])
    assert run.returncode == 0


def test_python_client_receives_the_scenario_in_order(emulator, stub_scenario) -> None:
    emu = emulator(stub_scenario)
    run = run_python_client(emu.url, emu.url, timeout=30, extra=["--room-info", "--gift-info"])
    assert_ok(run)
    assert run.pairs() == python_events(stub_scenario)
    assert http_calls(emu) == [
        ("GET", "/@emu_streamer/live"),
        ("GET", "/webcast/room/check_alive/"),
        ("GET", "/webcast/room/info/"),
        ("GET", "/webcast/gift/list/"),
        ("GET", "/webcast/fetch"),
    ]
    gift = next(e for e in run.events if e["event"] == "Gift")
    scenario_gift = next(s for s in stub_scenario["timeline"] if s["type"] == "gift")
    assert gift["repeat_count"] == scenario_gift["repeat_count"]
    assert gift["gift_id"] == str(scenario_gift["gift"]["id"])
    comment = next(e for e in run.events if e["event"] == "Comment")
    assert comment["content"] == next(s for s in stub_scenario["timeline"] if s["type"] == "chat")["content"]
    assert_session_log(emu, stub_scenario, client_close_code=1000)


def test_node_client_receives_the_scenario_in_order(emulator, stub_scenario, needs_node) -> None:
    emu = emulator(stub_scenario)
    run = run_node_client(emu.url, emu.url, tls_url=emu.tls_url, timeout=30, extra=["--ping-ms", "200", "--gift-info"])
    assert_ok(run)
    assert run.pairs() == node_events(stub_scenario)
    assert http_calls(emu) == [
        ("GET", "/@emu_streamer/live"),
        ("GET", "/webcast/room/info/"),
        ("POST", "/tiktok/sign_url"),
        ("GET", "/webcast/gift/list/"),
        ("GET", f"/webcast/rooms/{ROOM}/connect"),
    ]
    assert run.events[-1]["code"] == 1000
    gift = next(e for e in run.events if e["event"] == "gift")
    assert gift["repeat_count"] == next(s for s in stub_scenario["timeline"] if s["type"] == "gift")["repeat_count"]
    # The connector closes with an empty close frame (no status code).
    assert_session_log(emu, stub_scenario, client_close_code=1005)


@pytest.mark.parametrize(
    ("room", "python_error"),
    [({"state": "offline"}, "UserOfflineError"), ({"state": "not_found"}, "UserNotFoundError")],
)
def test_python_client_reports_room_errors(emulator, stub_scenario, room, python_error) -> None:
    emu = emulator({**stub_scenario, "room": room})
    run = run_python_client(emu.url, emu.url, timeout=20)
    assert run.returncode == 3
    assert run.outcome["error"] == python_error
    assert not [e for e in emu.log() if e["kind"].startswith("ws_")]


def test_python_client_reports_age_restriction(emulator, stub_scenario) -> None:
    emu = emulator({**stub_scenario, "room": {"state": "age_restricted"}})
    run = run_python_client(emu.url, emu.url, timeout=20, extra=["--room-info"])
    assert run.outcome["error"] == "AgeRestrictedError"


def test_blocked_html_falls_back_to_the_api_route(emulator, stub_scenario) -> None:
    emu = emulator({**stub_scenario, "room": {"state": "blocked_html"}})
    run = run_python_client(emu.url, emu.url, timeout=30)
    assert_ok(run)
    assert ("GET", "/api-live/user/room/") in http_calls(emu)


@pytest.mark.parametrize(
    ("room", "node_error"),
    [({"state": "offline"}, "UserOfflineError"), ({"state": "not_found"}, "InvalidResponseCompositeError")],
)
def test_node_client_reports_room_errors(emulator, stub_scenario, room, node_error, needs_node) -> None:
    emu = emulator({**stub_scenario, "room": room})
    run = run_node_client(emu.url, emu.url, tls_url=emu.tls_url, timeout=20)
    assert run.returncode == 3
    assert run.outcome["error"] == node_error


# One client per run: without Node the Python half still runs (and the Node half skips, saying why).
@pytest.mark.parametrize("client", ["python", "node"])
def test_websocket_refusal_reaches_the_client(
    emulator, stub_scenario, client: str, request: pytest.FixtureRequest
) -> None:
    if client == "node":
        request.getfixturevalue("needs_node")
    scenario = {
        **stub_scenario,
        "websocket": {**stub_scenario["websocket"], "reject": {"status": 400, "handshake_msg": "DEVICE_BLOCKED"}},
    }
    emu = emulator(scenario)
    if client == "python":
        python = run_python_client(emu.url, emu.url, timeout=20)
        assert python.outcome["error"] == "WebcastBlockedError"
        assert "DEVICE_BLOCKED" in python.outcome["message"]
    else:
        node = run_node_client(emu.url, emu.url, tls_url=emu.tls_url, timeout=20)
        assert node.returncode == 3
        assert "DEVICE_BLOCKED" in node.outcome["message"]
    assert len(emu.log("ws_reject")) == 1


@pytest.mark.parametrize("client", ["python", "node"])
def test_abnormal_close_reaches_the_client(
    emulator, stub_scenario, client: str, request: pytest.FixtureRequest
) -> None:
    if client == "node":
        request.getfixturevalue("needs_node")
    timeline = [s for s in stub_scenario["timeline"] if s["type"] != "control"]
    scenario = {**stub_scenario, "timeline": timeline, "end": {"close": 4001, "reason": "emulated failure"}}
    emu = emulator(scenario)
    if client == "python":
        python = run_python_client(emu.url, emu.url, timeout=20)
        # TikTokLive 7.0.1 races itself on an abnormal close: its message iterator raises ConnectionClosedError,
        # unless its heartbeat task sees the closed socket first and the iterator stops as on a clean end (then
        # a Disconnect event). Which one wins depends on delivery timing (Nagle off makes the second common).
        # Either way the client ends by itself, promptly, with no event after the close.
        if python.outcome.get("error") is not None:
            assert python.outcome["error"] == "ConnectionClosedError"
            assert "Disconnect" not in python.names()
        else:
            assert python.outcome["ok"] is True and python.names()[-1] == "Disconnect"
    else:
        node = run_node_client(emu.url, emu.url, tls_url=emu.tls_url, timeout=20)
        assert node.events[-1]["event"] == "disconnected"
        assert node.events[-1]["code"] == 4001
    assert [e["code"] for e in emu.log() if e["kind"] == "ws_close" and e["by"] == "server"] == [4001]


def test_node_client_over_plain_http_with_the_downgrade_hook(emulator, stub_scenario, needs_node) -> None:
    # No TLS listener: the driver's got hook turns the connector's forced https back into http.
    emu = emulator(stub_scenario, tls=False)
    assert emu.tls_url is None
    run = run_node_client(emu.url, emu.url, timeout=30)
    assert_ok(run)
    assert run.pairs() == node_events(stub_scenario)
