"""Euler's newer routes called by the real SDKs: EulerApiSdk 0.5.0 (PyPI, own venv under .venv-e2e/) and
tiktok-live-api-sdk 0.6.0 (npm, tests/e2e/node-euler-sdk/), against a real ``ttsign serve`` whose TikTok is a
strict ``ttsign emulate``, both on 127.0.0.1 (port 0, read back) and stopped by PID.

Each SDK asks, through its own request building and parsing: its rate limits (GET /accounts/me/rate_limits), a
signed im/fetch URL with the caller's own ttwid (POST /tiktok/signing/encrypt/sign_url) and the first webcast
payload of the streamer's room by unique id (GET /webcast/anchors/{unique_id}/connect). The signed URL is then
sent to the strict emulator with the cookie ttsign answered, as a browser would, and must pass every check.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.harness import (
    E2E,
    ROOT,
    ClientRun,
    EmulatorHandle,
    Proc,
    _run_driver,
    serve_argv,
    start_emulator,
    stop_cleanly,
    ttsign_keys,
)
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

EULER_PYTHON = ROOT / ".venv-e2e" / "eulerapisdk-0.5.0" / "bin" / "python"
PYTHON_DRIVER = E2E / "clients" / "euler_sdk_client.py"
NODE_DIR = E2E / "node-euler-sdk"
STREAMER, ROOM = "emu_streamer", "7390000000000000001"  # the default scenario's
FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
PER_MINUTE = 50
SDKS = ("python", "node")


@dataclass
class Server:
    proc: Proc
    url: str
    api_key: str


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    """The strict emulator in its 2026-08 era, which judges an im/fetch by its signatures (since 2026-09 it refuses
    any X-Gnarly there), so a URL ttsign signed can be checked by sending it."""
    handle = start_emulator(None, strict=True, tls=False, era="2026-08")
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``ttsign serve --upstream <emulator>``; the emulator's host is signable (it stands in for TikTok's)."""
    store = tmp_path_factory.mktemp("euler-sdks") / "ttsign.sqlite3"
    env = {
        "TTSIGN_STORE_PATH": str(store),
        "TTSIGN_SIGN_ALLOWED_HOSTS": '["webcast.tiktok.com", "*.tiktok.com", "127.0.0.1"]',
        "TTSIGN_LOG_LEVEL": "DEBUG",  # the most verbose log must still hold no ttwid
    }
    key = ttsign_keys(env, "create", "--name", "euler-sdks", "--per-minute", str(PER_MINUTE))["api_key"]
    proc = Proc(serve_argv(emu.url), name="server", env=env).start()
    server = Server(proc, str(proc.wait_ready()["url"]), str(key))
    yield server
    assert "Traceback" not in stop_cleanly(proc)


@pytest.fixture(autouse=True)
def fresh_log(emu: EmulatorHandle) -> None:
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


def missing(sdk: str) -> str | None:
    if sdk == "python" and not EULER_PYTHON.exists():
        return "EulerApiSdk 0.5.0 not installed: run scripts/e2e-deps.sh"
    if sdk == "node" and not (NODE_DIR / "node_modules" / "tiktok-live-api-sdk" / "package.json").exists():
        return "tiktok-live-api-sdk 0.6.0 not installed: run scripts/e2e-deps.sh"
    return None


def run_sdk(sdk: str, server: Server, url: str, *extra: str, timeout: float = 20) -> ClientRun:
    reason = missing(sdk)
    if reason:
        pytest.skip(reason)
    flags = ["--sign", server.url, "--url", url, "--unique-id", STREAMER, "--timeout", str(timeout), *extra]
    if sdk == "python":
        return _run_driver([str(EULER_PYTHON), str(PYTHON_DRIVER), *flags], timeout, None, ROOT)
    return _run_driver(["node", str(NODE_DIR / "driver.mjs"), *flags], timeout, None, NODE_DIR)


def events(run: ClientRun) -> dict[str, dict[str, Any]]:
    assert run.outcome.get("ok") is True and run.returncode == 0, (run.outcome, run.events, run.stderr[-3000:])
    assert run.names() == ["rate_limits", "signed", "connect"]
    return {event["event"]: event for event in run.events}


def issued_ttwid(emu: EmulatorHandle, tries: int = 40) -> str:
    """A ttwid the emulator minted (its strict mode accepts only those), as a browser's cookie jar holds one: a
    profile page mints one on only a share of visits (a third by default), so visit until it does."""
    for _ in range(tries):
        ttwid = httpx.get(emu.url + "/@tiktok", timeout=10).cookies.get("ttwid")
        if ttwid:
            return str(ttwid)
    raise AssertionError(f"no ttwid in {tries} visits")


def im_fetch_url(emu: EmulatorHandle) -> str:
    return f"{emu.url}/webcast/im/fetch/?aid=1988&app_name=tiktok_web&device_platform=web_pc&room_id={ROOM}"


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_reads_its_rate_limits_in_the_newer_shape(sdk: str, emu: EmulatorHandle, server: Server) -> None:
    limits = events(run_sdk(sdk, server, im_fetch_url(emu), "--api-key", server.api_key))["rate_limits"]
    assert limits["status"] == 200
    if sdk == "python":
        assert limits["parsed"] == "GetRateLimits"  # the SDK's own model took the body
    body = limits["body"]
    assert body["code"] == 200
    minute = body["minute"]
    assert minute["max"] == PER_MINUTE and 0 <= minute["remaining"] <= PER_MINUTE
    # Earlier runs of this module count in the same window: then it has a reset instant, else null.
    if minute["remaining"] < PER_MINUTE:
        reset = datetime.fromisoformat(minute["reset_at"]).timestamp()
        assert time.time() < reset <= time.time() + 61
    else:
        assert minute["reset_at"] is None


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_rate_limits_of_another_type_are_refused(sdk: str, emu: EmulatorHandle, server: Server) -> None:
    run = run_sdk(sdk, server, im_fetch_url(emu), "--api-key", server.api_key, "--limit-type", "ALERTS")
    limits = events(run)["rate_limits"]
    assert limits["status"] == 400
    if sdk == "python":
        assert limits["parsed"] is None  # 0.5.0 models no 400: the SDK hands back the status alone
    else:
        assert limits["body"]["reason"] == "unsupported_limit_type"


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_signs_with_the_callers_ttwid_and_the_strict_emulator_accepts_it(
    sdk: str, emu: EmulatorHandle, server: Server
) -> None:
    ttwid = issued_ttwid(emu)
    flags = ["--api-key", server.api_key, "--user-agent", FIREFOX_UA, "--ttwid", ttwid, "--include-browser-params"]
    signed = events(run_sdk(sdk, server, im_fetch_url(emu), *flags))["signed"]
    assert (signed["status"], signed["code"]) == (200, 200)
    assert signed["user_agent"] == FIREFOX_UA
    assert set(signed["tokens"]) >= {"msToken", "X-Bogus", "X-Gnarly"}
    assert [(c["name"], c["value"]) for c in signed["cookies"]] == [("ttwid", ttwid)]
    assert "browser_name=Mozilla" in signed["signed_url"] and "screen_width=" in signed["signed_url"]
    # Sent as the browser would: the signed URL, the answered User-Agent, the answered cookie.
    response = httpx.get(signed["signed_url"], headers={"User-Agent": FIREFOX_UA}, cookies={"ttwid": ttwid})
    (check,) = emu.log("strict_check")
    assert check["ok"] is True, check
    assert response.status_code == 200 and response.content
    stderr = server.proc.stderr_text()
    assert ttwid not in stderr and ttwid.split("%7C")[1] not in stderr, "the caller's ttwid reached the server log"


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_connects_by_unique_id(sdk: str, emu: EmulatorHandle, server: Server) -> None:
    connect = events(run_sdk(sdk, server, im_fetch_url(emu), "--api-key", server.api_key))["connect"]
    assert connect["status"] == 200
    assert connect["content_type"] == "application/x-protobuf"
    assert connect["room_id"] == ROOM
    assert connect["set_tt_cookie"].startswith("ttwid=")
    result = ProtoMessageFetchResult()
    result.ParseFromString(base64.b64decode(connect["payload_b64"]))
    assert result.push_server and result.cursor


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_connect_to_an_unknown_streamer_is_a_json_404(sdk: str, emu: EmulatorHandle, server: Server) -> None:
    run = run_sdk(sdk, server, im_fetch_url(emu), "--api-key", server.api_key)
    assert events(run)["connect"]["status"] == 200  # the same SDK run against a known streamer (control)
    run = run_sdk(sdk, server, im_fetch_url(emu), "--api-key", server.api_key, "--unique-id", "nobody_here")
    connect = events(run)["connect"]
    assert connect["status"] == 404 and connect["content_type"].startswith("application/json")
