"""Assertions on the emulator's log of one client session that went through ``ttsign serve``.

The log format is src/ttsign/emulator/scenarios/README.md ("The log"). Each helper checks one side of the
path: the im/fetch ttsign made on the client's behalf, and the push WebSocket session the client then ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.harness import EmulatorHandle
from ttsign.signing import ProfileError, profile_from_user_agent

Log = list[dict[str, Any]]


def multimap(pairs: list[list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def of_kind(log: Log, kind: str) -> Log:
    return [e for e in log if e["kind"] == kind]


def http_calls(log: Log) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in of_kind(log, "http")]


# ttsign's cookie pages: the streamer's page (a connect by unique id), then bootstrap_pages (old and new default)
BOOTSTRAP_CALLS = (("GET", "/"), ("GET", "/@tiktok"), ("GET", "/@emu_streamer"))


def without_bootstrap(calls: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The calls minus ttsign's identity bootstrap (a cookie page), which happens only for a new identity."""
    assert sum(calls.count(call) for call in BOOTSTRAP_CALLS) <= 1, calls
    return [call for call in calls if call not in BOOTSTRAP_CALLS]


def assert_fetch_through_ttsign(log: Log, room: str, *, contact: str) -> dict[str, Any]:
    """Exactly one im/fetch, from ttsign: strictly verified, Euler's notice, both signatures, our ttwid."""
    (check,) = of_kind(log, "strict_check")
    assert check["path"] == "/webcast/im/fetch/"
    assert (check["enforced"], check["ok"], check["failed"]) == (True, True, []), check
    required = {
        "x_bogus.query",
        "x_bogus.body",
        "x_bogus.user_agent",
        "x_bogus.time",
        "x_gnarly.query",
        "x_gnarly.version",
        "x_gnarly.time",
        "ms_token.format",
        "browser.browser_name",
        "browser.browser_version",
        "ttwid_cookie",
    }
    assert required <= set(check["checks"]), check["checks"]
    assert not of_kind(log, "strict_reject")
    (fetch,) = [e for e in of_kind(log, "http") if e["route"] == "im_fetch"]
    assert (fetch["method"], fetch["status"], fetch["fault"]) == ("GET", 200, None)
    query = multimap(fetch["query"])
    assert query["notice"] == ["CUSTOM_SIGN_SERVER"]
    assert query["contact_us"] == [contact]
    assert query["room_id"] == [room]
    for token in ("X-Bogus", "X-Gnarly"):
        assert len(query[token]) == 1 and query[token][0], token
    # msToken is logged redacted; it must be there and not empty. The signatures come last, in that order.
    assert len(query["msToken"]) == 1 and query["msToken"][0] != "<redacted len=0>"
    assert [key for key, _ in fetch["query"]][-3:] == ["msToken", "X-Bogus", "X-Gnarly"]
    assert "ttwid" in fetch["cookies"] and fetch["ttwid_issued"] is True
    return fetch


def assert_push_session(log: Log, scenario: dict[str, Any], room: str, *, client_close_code: int) -> dict[str, Any]:
    """One push session: issued ttwid, route params echoed, one ack per frame, heartbeats, enter_room."""
    (handshake,) = of_kind(log, "ws_handshake")
    assert handshake["ttwid_issued"] is True
    assert handshake["route_params_missing"] == []
    query = multimap(handshake["query"])
    assert room in query["room_id"]
    for key, value in scenario["websocket"]["route_params"].items():
        assert value in query[key], f"route param {key} not echoed"
    (ws_check,) = of_kind(log, "ws_strict_check")
    assert ws_check["ok"] is True and {"ttwid_cookie", "route_params_echo"} <= set(ws_check["checks"])
    assert not of_kind(log, "ws_reject")
    sent = [e for e in of_kind(log, "ws_sent") if e["payload_type"] == "msg"]
    acks = [e for e in of_kind(log, "ws_recv") if e["payload_type"] == "ack"]
    assert len(sent) == len(scenario["timeline"])
    assert len({s["log_id"] for s in sent}) == len(sent), "every pushed frame has its own log_id"
    assert sorted((a["log_id"], a["decoded"]["internal_ext"]) for a in acks) == sorted(
        (s["log_id"], s["internal_ext"]) for s in sent
    ), "one ack per pushed frame, echoing its log_id and internal_ext"
    beats = [e["decoded"] for e in of_kind(log, "ws_recv") if e["payload_type"] == "hb"]
    assert beats, "no heartbeat arrived"
    assert beats[0]["seq"] == 1
    assert {b["room_id"] for b in beats} == {room}
    enters = [e["decoded"] for e in of_kind(log, "ws_recv") if e["payload_type"] == "im_enter_room"]
    assert [e["room_id"] for e in enters] == [room]
    closes = [(e["by"], e.get("code")) for e in of_kind(log, "ws_close")]
    assert closes == [("client", client_close_code)]
    unknown = [e["path"] for e in of_kind(log, "http") if e["route"] == "unknown"]
    assert unknown == [], f"a client called routes the emulator does not serve: {unknown}"
    return handshake


def assert_same_browser(fetch: dict[str, Any], handshake: dict[str, Any]) -> None:
    """ttsign signs with the client's own browser whenever that browser can be profiled consistently."""
    try:
        profile_from_user_agent(handshake["user_agent"])
    except ProfileError:
        return  # e.g. Opera: ttsign falls back to one of its own profiles
    assert fetch["user_agent"] == handshake["user_agent"]


def wait_for_log(emu: EmulatorHandle, predicate: Callable[[Log], bool], timeout: float = 10.0) -> Log:
    """Poll the emulator log until ``predicate(log)`` holds (bounded), so no late entry leaks into a test."""
    deadline = time.monotonic() + timeout
    log = emu.log()
    while not predicate(log):
        assert time.monotonic() < deadline, "the emulator log never reached the expected state"
        time.sleep(0.1)
        log = emu.log()
    return log


def wait_until_answered(emu: EmulatorHandle, route: str, timeout: float = 10.0) -> Log:
    """Wait until every request the emulator received on ``route`` is logged, so none is still in flight.

    A slow answer (injected latency) outlives the caller that gave up on it; waiting keeps its log entry out
    of the next test. ``hits`` counts requests on arrival since the scenario was last replaced.
    """

    def settled(log: Log) -> bool:
        hits = httpx.get(f"{emu.url}/__emu/state", timeout=5).json()["hits"].get(route, 0)
        return hits == len([e for e in of_kind(log, "http") if e["route"] == route])

    return wait_for_log(emu, settled, timeout)
