"""The OLDER real clients (issue 4's client matrix) against the emulator in stub-sign mode.

TikTokLive 6.6.6 / 5.0.8 (own venvs) and tiktok-live-connector 2.3.0-beta1 / 1.2.3 (own node_modules), plus the
sign_url paths of TikTokLive 7.0.1 and tiktok-live-connector 2.5.0. Each test asserts the events the client
emits (tables in expected.py / expected_legacy.py) and the exact sign-server request it made (the contract
`ttsign serve` must meet, spec sign-api.md §0-§6). A version is skipped only when it is not installed
(scripts/e2e-deps.sh). Routes the stub does not serve are asserted as the 404 they get today.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.expected import node_events, python_events
from tests.e2e.expected_legacy import node12_events, py508_events
from tests.e2e.harness import ClientRun, EmulatorHandle
from tests.e2e.legacy_clients import (
    node_missing,
    python_missing,
    run_node,
    run_python,
    run_python_sign_url,
    start_sign_stand_in,
)
from ttsign.signing import verify_request

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOM = "7390000000000000001"
CANARY = "canary-key-7f3a9c"
BROWSER_CHECKS = {"browser.browser_name", "browser.browser_version", "browser.user_agent"}


@pytest.fixture
def stub_scenario(default_scenario: dict[str, Any]) -> dict[str, Any]:
    return {**default_scenario, "stub_sign": True}


def need_python(version: str) -> None:
    reason = python_missing(version)
    if reason:
        pytest.skip(reason)


def need_node(version: str) -> None:
    reason = node_missing(version)
    if reason:
        pytest.skip(reason)


def assert_ok(run: ClientRun) -> None:
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])
    assert run.returncode == 0


def http_calls(emu: EmulatorHandle, route: str | None = None) -> list[dict[str, Any]]:
    calls = [e for e in emu.log("http") if route is None or e["route"] == route]
    for call in calls:
        call["params"] = dict(call["query"])
    return calls


def unknown_routes(emu: EmulatorHandle) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in http_calls(emu, "unknown")]


def assert_ws_session(emu: EmulatorHandle, scenario: dict[str, Any]) -> None:
    """Every timeline frame was pushed and acked; the WebSocket carried the issued ttwid."""
    log = emu.log()
    sent = [e for e in log if e["kind"] == "ws_sent" and e["payload_type"] == "msg"]
    acks = [e for e in log if e["kind"] == "ws_recv" and e["payload_type"] == "ack"]
    assert len(sent) == len(scenario["timeline"])
    assert sorted(a["log_id"] for a in acks) == sorted(s["log_id"] for s in sent)
    (handshake,) = [e for e in log if e["kind"] == "ws_handshake"]
    assert handshake["ttwid_issued"] is True
    assert [e["ok"] for e in log if e["kind"] == "ws_strict_check"] == [True]


def verification_failures(url: str, user_agent: str) -> set[str]:
    result = verify_request(url, "", user_agent, now_ms=int(time.time() * 1000))
    return {check.name for check in result.failures}


# --- TikTokLive 6.6.6 (EulerApiSdk 0.1.0: GET /webcast/fetch) -------------------------------------------------


def test_tiktoklive_666_receives_the_scenario(emulator, stub_scenario) -> None:
    need_python("6.6.6")
    emu = emulator(stub_scenario)
    run = run_python("6.6.6", emu.url, emu.url, api_key=CANARY)
    assert_ok(run)
    assert run.pairs() == python_events(stub_scenario)
    (fetch,) = http_calls(emu, "stub_sign")
    assert (fetch["method"], fetch["path"]) == ("GET", "/webcast/fetch")
    assert set(fetch["params"]) == {"client", "room_id", "user_agent", "platform", "client_enter", "tt_target_idc"}
    assert fetch["params"]["client"] == "ttlive-python"
    assert fetch["params"]["room_id"] == ROOM
    assert (fetch["params"]["platform"], fetch["params"]["client_enter"]) == ("web", "true")
    assert fetch["params"]["user_agent"].startswith("Mozilla/5.0")
    assert fetch["user_agent"] == "TikTokLive.py/6.6.6"
    assert "x-api-key" in fetch["headers"]
    assert_ws_session(emu, stub_scenario)
    assert unknown_routes(emu) == []


@pytest.mark.parametrize(
    ("room", "error"), [({"state": "offline"}, "UserOfflineError"), ({"state": "not_found"}, "UserNotFoundError")]
)
def test_tiktoklive_666_reports_room_errors(emulator, stub_scenario, room, error) -> None:
    need_python("6.6.6")
    emu = emulator({**stub_scenario, "room": room})
    run = run_python("6.6.6", emu.url, emu.url, timeout=20)
    assert (run.returncode, run.outcome["error"]) == (3, error)
    assert not [e for e in emu.log() if e["kind"].startswith("ws_")]


# --- TikTokLive 5.0.8 (config constants; GET /webcast/fetch/ with TikTok's whole query) ------------------------


def test_tiktoklive_508_receives_the_scenario(emulator, stub_scenario) -> None:
    need_python("5.0.8")
    emu = emulator(stub_scenario)
    run = run_python("5.0.8", emu.url, emu.url, api_key=CANARY)
    assert_ok(run)
    assert run.pairs() == py508_events(stub_scenario)
    comment = next(e for e in run.events if e["event"] == "Comment")
    assert comment["content"] == next(s for s in stub_scenario["timeline"] if s["type"] == "chat")["content"]
    gift = next(e for e in run.events if e["event"] == "Gift")
    scenario_gift = next(s for s in stub_scenario["timeline"] if s["type"] == "gift")
    assert (gift["gift_id"], gift["repeat_count"]) == (str(scenario_gift["gift"]["id"]), scenario_gift["repeat_count"])
    (fetch,) = http_calls(emu, "stub_sign")
    assert (fetch["method"], fetch["path"]) == ("GET", "/webcast/fetch/")
    params = fetch["params"]
    # The old query style: TikTok's whole im/fetch query plus client, uuc and apiKey (spec §2.1).
    assert {"client", "uuc", "apiKey", "room_id", "cursor", "internal_ext", "aid", "msToken"} <= set(params)
    assert (params["client"], params["uuc"], params["room_id"]) == ("ttlive-python", "1", ROOM)
    assert params["apiKey"] == f"<redacted len={len(CANARY)}>"
    assert fetch["user_agent"].startswith("Mozilla/5.0")  # its browser UA, not a library UA
    assert "x-api-key" not in fetch["headers"]
    assert_ws_session(emu, stub_scenario)
    assert unknown_routes(emu) == []


@pytest.mark.parametrize(
    ("room", "error"), [({"state": "offline"}, "LiveNotFound"), ({"state": "not_found"}, "FailedFetchRoomInfo")]
)
def test_tiktoklive_508_reports_room_errors(emulator, stub_scenario, room, error) -> None:
    need_python("5.0.8")
    emu = emulator({**stub_scenario, "room": room})
    run = run_python("5.0.8", emu.url, emu.url, timeout=20)
    assert (run.returncode, run.outcome["error"]) == (3, error)
    assert http_calls(emu, "stub_sign") == []


# --- tiktok-live-connector 2.3.0-beta1 (@eulerstream/euler-api-sdk 0.3.0) -------------------------------------


def test_node_23_receives_the_scenario(emulator, stub_scenario) -> None:
    need_node("2.3.0-beta1")
    emu = emulator(stub_scenario)
    run = run_node("2.3.0-beta1", emu.url, emu.url, tls_url=emu.tls_url, api_key=CANARY, extra=["--ping-ms", "200"])
    assert_ok(run)
    assert run.pairs() == node_events(stub_scenario)
    (fetch,) = http_calls(emu, "stub_sign")
    assert (fetch["method"], fetch["path"]) == ("GET", "/webcast/fetch")
    assert set(fetch["params"]) == {"client", "room_id", "cursor", "user_agent", "client_enter", "platform"}
    assert (fetch["params"]["client"], fetch["params"]["room_id"]) == ("ttlive-node", ROOM)
    assert fetch["user_agent"].startswith("tiktok-live-connector/2.3.0-beta1 ")
    assert "x-api-key" in fetch["headers"]
    assert_ws_session(emu, stub_scenario)
    assert unknown_routes(emu) == []


def test_node_23_room_id_fallback_calls_get_webcast_room_id(emulator, stub_scenario) -> None:
    """With the HTML and api-live sources skipped, 2.3 asks the sign server: GET /webcast/room_id?uniqueId=."""
    need_node("2.3.0-beta1")
    emu = emulator(stub_scenario)
    run = run_node("2.3.0-beta1", emu.url, emu.url, tls_url=emu.tls_url, timeout=20, extra=["--euler-room-id"])
    (call,) = [e for e in http_calls(emu) if e["path"] == "/webcast/room_id"]
    assert (call["method"], call["params"]) == ("GET", {"uniqueId": "emu_streamer"})
    if call["route"] == "unknown":  # the stub has no such route (yet): the client reports its composite error
        assert run.outcome["error"] == "InvalidResponseCompositeError"
    else:
        assert_ok(run)


def test_node_23_signs_through_post_webcast_sign_url(emulator, stub_scenario) -> None:
    need_node("2.3.0-beta1")
    emu = emulator(stub_scenario)
    run = run_node("2.3.0-beta1", emu.url, emu.url, script="sign_url.mjs", tls_url=emu.tls_url, api_key=CANARY)
    assert_ok(run)
    (signed,) = run.events
    assert signed["tokens"] == ["msToken", "X-Bogus", "X-Gnarly"]
    assert signed["signed_url"].startswith(signed["url"].split("?")[0] + "?")
    assert verification_failures(signed["signed_url"], signed["user_agent"]) == set()
    (sign,) = http_calls(emu, "stub_sign")
    assert (sign["method"], sign["path"], sign["params"]) == ("POST", "/webcast/sign_url", {"client": "ttlive-node"})
    assert {"content-type", "x-api-key"} <= set(sign["headers"])
    (gifts,) = [e for e in http_calls(emu) if e["path"] == "/webcast/gift/list/"]
    assert gifts["user_agent"] == signed["user_agent"]  # the client adopted the signer's UA
    assert unknown_routes(emu) == []


# --- tiktok-live-connector 2.5.0 gift-list signing (POST /tiktok/sign_url) ------------------------------------


def test_node_25_signs_the_gift_list_through_post_tiktok_sign_url(emulator, stub_scenario) -> None:
    need_node("2.5.0")
    emu = emulator(stub_scenario)
    run = run_node("2.5.0", emu.url, emu.url, script="sign_gift_list.mjs", tls_url=emu.tls_url, api_key=CANARY)
    assert_ok(run)
    assert run.outcome["gifts"] >= 1
    (signed,) = run.events
    assert "/webcast/gift/list/?" in signed["url"]
    assert signed["tokens"] == ["msToken", "X-Bogus", "X-Gnarly"]
    assert verification_failures(signed["signed_url"], signed["user_agent"]) == set()
    (sign,) = http_calls(emu, "stub_sign")
    assert (sign["method"], sign["path"], sign["params"]) == ("POST", "/tiktok/sign_url", {"client": "ttlive-node"})
    assert "x-api-key" in sign["headers"]
    assert unknown_routes(emu) == []


# --- TikTokLive 7.0.1 build_request(sign_url=True) (POST /webcast/sign_url JSON) ------------------------------


def test_tiktoklive_701_sign_url_is_judged_like_verify_request_by_the_strict_emulator(emulator, stub_scenario) -> None:
    """The client's own sign_url path; its signatures always hold for the exact bytes and its UA.

    TikTokLive 7.0.1 draws its User-Agent and its URL's browser_* params from separate random presets (e.g. a
    Chrome 131 UA with an Opera browser_version), and the stub signs the URL as sent: only the browser check can
    fail here. ttsign serve must make them consistent (issue 4); its own test should expect no failure at all.
    """
    emu = emulator(stub_scenario, era="2026-08")  # strict im/fetch signature checks: the rules before 2026-09
    run = run_python_sign_url(emu.url, emu.url, extra=["--api-key", CANARY])
    assert_ok(run)
    (signed,) = run.events
    assert signed["tokens"] == ["msToken", "X-Bogus", "X-Gnarly"]
    failures = verification_failures(signed["url"], signed["user_agent"])
    assert failures <= BROWSER_CHECKS
    (sign,) = http_calls(emu, "stub_sign")
    assert (sign["method"], sign["path"], sign["params"]) == ("POST", "/webcast/sign_url", {"client": "ttlive-other"})
    assert sign["user_agent"] == "TikTokLive.py/7.0.1"
    assert "x-api-key" in sign["headers"]
    # The client keeps its cookies on .tiktok.com, so it sends none to 127.0.0.1: replay its signed URL and UA
    # with an emulator-issued ttwid, as a browser would, and let strict mode judge the signature.
    ttwid = httpx.get(emu.url + "/", timeout=10).cookies["ttwid"]
    response = httpx.get(signed["url"], headers={"User-Agent": signed["user_agent"]}, cookies={"ttwid": ttwid})
    (check,) = emu.log("strict_check")
    assert set(check["failed"]) == failures
    assert check["ok"] is (not failures)
    assert bool(response.content) is (not failures), "strict mode answers an empty 200 exactly when it refuses"


# --- tiktok-live-connector 1.2.3 (legacy GET /webcast/sign_url?url=...) ----------------------------------------


def test_node_12_asks_the_legacy_sign_url_route(emulator, stub_scenario) -> None:
    need_node("1.2.3")
    emu = emulator(stub_scenario, era="2026-08")  # 1.x sends its own im/fetch: the path closed since 2026-09
    run = run_node("1.2.3", emu.url, emu.url, api_key=CANARY, timeout=20)
    (call,) = [e for e in http_calls(emu) if e["path"].startswith("/webcast/sign_url")]
    assert (call["method"], call["path"]) == ("GET", "/webcast/sign_url")
    assert set(call["params"]) == {"url", "client", "uuc", "apiKey"}
    assert call["params"]["client"] == "ttlive-node"
    assert call["params"]["url"].startswith(f"{emu.url}/webcast/im/fetch/?")
    assert f"room_id={ROOM}" in call["params"]["url"]
    assert call["user_agent"].startswith("tiktok-live-connector/1.2.3 ")
    if call["route"] == "unknown":  # the stub does not serve the legacy route (yet)
        assert (run.returncode, run.outcome["error"]) == (3, "SignatureError")
    else:
        assert_ok(run)


@pytest.fixture
def legacy_sign_url() -> Any:
    proc = start_sign_stand_in()
    yield proc.ready["url"]
    assert proc.stop() == 0, proc.stderr_text()


def test_node_12_receives_the_scenario_via_legacy_sign_url(emulator, stub_scenario, legacy_sign_url) -> None:
    """The whole 1.2.3 flow: legacy sign, its own signed im/fetch judged by the strict emulator, the WebSocket.

    Node's URLSearchParams writes spaces as '+' (browser_version): the strict check must read them as spaces.
    """
    need_node("1.2.3")
    emu = emulator(stub_scenario, era="2026-08")  # 1.x sends its own im/fetch: the path closed since 2026-09
    run = run_node("1.2.3", emu.url, legacy_sign_url)
    assert_ok(run)
    assert run.pairs() == node12_events(stub_scenario)
    (fetch,) = http_calls(emu, "im_fetch")
    assert {"msToken", "X-Bogus", "X-Gnarly", "room_id"} <= set(fetch["params"])
    assert "ttwid" in fetch["cookies"]
    assert [e["ok"] for e in emu.log("strict_check")] == [True]
    assert_ws_session(emu, stub_scenario)
    assert unknown_routes(emu) == []
