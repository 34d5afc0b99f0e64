"""Issue 17 proof: the real clients connect through ``ttsign serve`` (default settings: strategies direct, fetch)
to ``ttsign emulate`` (default era 2026-09: im/fetch closed to non-browsers, the socket open to a ttwid with
browser params), with no im/fetch on the path; the fallthrough both ways; a budget-spent identity rotated; and
every bad input a typed error within the Java client's 3 s.

tiktok-live-connector 1.2.3 asks the legacy GET /webcast/sign_url for its im/fetch and sends the URL it gets
itself: ttsign hands it a URL of its own (/webcast/legacy/fetch/, service/legacy_fetch.py) that serves the direct
strategy's answer, so it too connects with no im/fetch; against --era 2026-08 it keeps the signed im/fetch
(test_client_versions*.py). Each client is skipped only when it is not installed (scripts/e2e-deps.sh).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.expected import node_events, python_events
from tests.e2e.expected_legacy import node12_events, py508_events
from tests.e2e.harness import (
    ClientRun,
    EmulatorHandle,
    Proc,
    serve_argv,
    start_emulator,
    stop_cleanly,
    ttsign_keys,
)
from tests.e2e.legacy_clients import client_missing, run_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ROOM = "7390000000000000001"
CLIENT_SIGN_TIMEOUT_S = 3.0  # what Java/Go clients wait for the sign server
EXPECTED: dict[str, Callable[[dict[str, Any]], list[tuple[str, str | None]]]] = {
    "py-7.0.1": python_events,
    "py-6.6.6": python_events,
    "py-5.0.8": py508_events,
    "node-2.5.0": node_events,
    "node-2.3.0-beta1": node_events,
}
FULL_SIGNATURES = '{"im_fetch": ["msToken", "X-Bogus", "X-Gnarly"]}'


@dataclass
class Server:
    proc: Proc
    url: str

    def access_lines(self) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.proc.stderr_text().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("logger") == "ttsign.access"]

    def strategies(self) -> list[str | None]:
        """The strategy of every connect answered 200, in order (the access log's `strategy` field)."""
        return [line.get("strategy") for line in self.access_lines() if line.get("status") == 200]


def start_server(emu: EmulatorHandle, tmp: Path, **env: str) -> Server:
    environment = {"TTSIGN_STORE_PATH": str(tmp / "ttsign.sqlite3"), **env}
    proc = Proc(serve_argv(emu.url), name="server", env=environment).start()
    return Server(proc, str(proc.wait_ready()["url"]))


def without_initial(scenario: dict[str, Any]) -> dict[str, Any]:
    """What a client sees through the direct strategy: the timeline only (no im/fetch, so no first messages)."""
    return {**scenario, "initial": []}


def need(client: str) -> None:
    reason = client_missing(client)
    if reason:
        pytest.skip(reason)


def assert_ok(run: ClientRun) -> None:
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])


def im_fetches(emu: EmulatorHandle) -> list[dict[str, Any]]:
    return [e for e in emu.log("http") if e["path"] == "/webcast/im/fetch/"]


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator(None, strict=True, tls=True)  # the default era: 2026-09
    assert handle.proc.ready["era"] == "2026-09"
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Default settings, but for the room breaker: the bad-input tests fail the same room on purpose."""
    started = start_server(emu, tmp_path_factory.mktemp("socket-era"), TTSIGN_BREAKER_FAILURE_THRESHOLD="1000")
    yield started
    assert "Traceback" not in stop_cleanly(started.proc)


@pytest.fixture
def cold_server(emu: EmulatorHandle, tmp_path: Path) -> Iterator[Server]:
    """A server that has not seen the room yet (a live room is taken as live for 5 s without asking again)."""
    started = start_server(emu, tmp_path, TTSIGN_BREAKER_FAILURE_THRESHOLD="1000")
    yield started
    assert "Traceback" not in stop_cleanly(started.proc)


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle, default_scenario: dict[str, Any]) -> None:
    httpx.post(f"{emu.url}/__emu/scenario", json=default_scenario, timeout=10).raise_for_status()
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


@pytest.mark.parametrize("client", sorted(EXPECTED))
def test_client_receives_the_scenario_through_the_direct_strategy(client, emu, server, default_scenario) -> None:
    need(client)
    served_before = len(server.strategies())
    run = run_client(client, emu.url, server.url, tls_url=emu.tls_url, timeout=30)
    assert_ok(run)
    assert run.pairs() == EXPECTED[client](without_initial(default_scenario))
    assert im_fetches(emu) == []
    assert emu.log("ws_reject") == []
    (handshake,) = emu.log("ws_handshake")
    assert handshake["ttwid_issued"] is True
    assert server.strategies()[served_before:] == ["direct"]


# The 1.2.3 driver points the client's webcast host at the emulator, so its URL to sign names 127.0.0.1: the one
# setting off the defaults (as in test_client_versions_through_server.py), else the URL is not ttsign's to sign.
EMULATOR_HOST_ALLOWED = {"TTSIGN_SIGN_ALLOWED_HOSTS": '["webcast.tiktok.com", "*.tiktok.com", "127.0.0.1"]'}


@pytest.fixture(scope="module")
def legacy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("socket-era-legacy")


@pytest.fixture(scope="module")
def legacy_server(emu: EmulatorHandle, legacy_dir: Path) -> Iterator[Server]:
    started = start_server(emu, legacy_dir, **EMULATOR_HOST_ALLOWED)
    yield started
    assert "Traceback" not in stop_cleanly(started.proc)


def test_node_123_receives_the_scenario_through_ttsigns_own_fetch_url(emu, legacy_server, default_scenario) -> None:
    """1.2.3 unmodified: the legacy sign answer points its im/fetch at ttsign, whose answer (the direct strategy's)
    gives it the identity's ttwid by Set-Cookie and TikTok's socket; the socket accepts it, no im/fetch at all."""
    need("node-1.2.3")
    server = legacy_server
    served_before = len(server.access_lines())
    run = run_client("node-1.2.3", emu.url, server.url, timeout=30)
    assert_ok(run)
    assert run.pairs() == node12_events(without_initial(default_scenario))
    assert im_fetches(emu) == []
    assert emu.log("ws_reject") == []
    (handshake,) = emu.log("ws_handshake")
    assert handshake["ttwid_issued"] is True
    routes = [(line.get("route"), line.get("status")) for line in server.access_lines()[served_before:]]
    assert ("/webcast/sign_url", 200) in routes
    assert ("/webcast/legacy/fetch/", 200) in routes
    assert server.strategies()[served_before:].count("direct") == 1


def test_node_123_with_a_key_is_counted_once_per_connect_and_the_key_stays_out_of_urls(
    emu: EmulatorHandle, legacy_server: Server, legacy_dir: Path, default_scenario: dict[str, Any]
) -> None:
    """A key allowed one request a minute: 1.2.3 connects with it (the sign request is the one counted; the fetch
    URL it is handed carries a ticket, not the key), and its next connect is refused with its own 429 error."""
    need("node-1.2.3")
    env = {"TTSIGN_STORE_PATH": str(legacy_dir / "ttsign.sqlite3")}
    key = ttsign_keys(env, "create", "--name", "node12-era", "--per-minute", "1")["api_key"]
    first = run_client("node-1.2.3", emu.url, legacy_server.url, api_key=key, timeout=30)
    assert_ok(first)
    assert first.pairs() == node12_events(without_initial(default_scenario))
    second = run_client("node-1.2.3", emu.url, legacy_server.url, api_key=key, timeout=20)
    assert (second.returncode, second.outcome["error"]) == (3, "SignatureError")
    assert "status code 429" in second.outcome["message"] and key not in second.outcome["message"]
    assert key not in json.dumps(emu.log()) and key not in legacy_server.proc.stderr_text()
    assert im_fetches(emu) == []


def test_node_123_fetches_the_signed_url_itself_when_the_operator_turns_it_off(
    emu: EmulatorHandle, tmp_path: Path, default_scenario: dict[str, Any]
) -> None:
    """`TTSIGN_LEGACY_FETCH_THROUGH_TTSIGN=false`: the signed im/fetch URL as before, which 1.2.3 sends to TikTok
    itself and TikTok refuses since 2026-09 (the legacy answer signs with X-Gnarly: 403), so no socket, no events."""
    need("node-1.2.3")
    off = start_server(emu, tmp_path, TTSIGN_LEGACY_FETCH_THROUGH_TTSIGN="false", **EMULATOR_HOST_ALLOWED)
    try:
        run = run_client("node-1.2.3", emu.url, off.url, timeout=30)
    finally:
        assert "Traceback" not in stop_cleanly(off.proc)
    assert run.outcome.get("ok") is not True
    assert run.events == []
    (fetch,) = im_fetches(emu)
    assert fetch["status"] == 403
    assert emu.log("ws_handshake") == []


# --- fallthrough --------------------------------------------------------------------------------------------


def test_direct_refused_falls_through_to_fetch(tmp_path: Path, default_scenario: dict[str, Any]) -> None:
    """TikTok before 2026-09 with room/info silently refused: direct cannot confirm the room, fetch serves it."""
    emu = start_emulator(None, strict=True, tls=False, era="2026-08")
    server = start_server(emu, tmp_path, TTSIGN_SIGNATURES_BY_ENDPOINT=FULL_SIGNATURES)
    try:
        emu.patch_scenario({"faults": {"room_info": {"empty_200": True}}})
        run = run_client("py-7.0.1", emu.url, server.url, timeout=30)
        assert_ok(run)
        assert run.pairs() == python_events(default_scenario)  # with the initial messages: im/fetch's
        assert server.strategies() == ["fetch"]
        assert len(im_fetches(emu)) == 1
    finally:
        stop_cleanly(server.proc)
        stop_cleanly(emu.proc)


def test_fetch_refused_falls_through_to_direct(tmp_path: Path, default_scenario: dict[str, Any]) -> None:
    """fetch first, against TikTok since 2026-09: im/fetch answers an empty 200, direct serves the room."""
    emu = start_emulator(None, strict=True, tls=False)
    server = start_server(emu, tmp_path, TTSIGN_CONNECT_STRATEGIES='["fetch", "direct"]')
    try:
        run = run_client("py-7.0.1", emu.url, server.url, timeout=30)
        assert_ok(run)
        assert run.pairs() == python_events(without_initial(default_scenario))
        assert server.strategies() == ["direct"]
        (check,) = emu.log("era_check")
        assert check["refused"] == 200  # no page script ran: TikTok's silent refusal
    finally:
        stop_cleanly(server.proc)
        stop_cleanly(emu.proc)


# --- connect budgets ----------------------------------------------------------------------------------------


def three_node_connects(emu: EmulatorHandle, server: Server) -> list[ClientRun]:
    return [run_client("node-2.5.0", emu.url, server.url, tls_url=emu.tls_url, timeout=30) for _ in range(3)]


def test_a_budget_spent_identity_is_rotated_before_tiktok_blocks_it(
    tmp_path: Path, default_scenario: dict[str, Any]
) -> None:
    """TikTok (here) blocks a ttwid at its 3rd socket connect within the hour. With a budget of 2 ttsign hands
    the 3rd connect a fresh identity; with the default budget (12) the same 3rd connect is DEVICE_BLOCKED."""
    need("node-2.5.0")
    scenario = {**default_scenario, "era_2026_09": {"socket_connects_per_hour": 2}}
    emu = start_emulator(scenario, strict=True, tls=True)
    rotating = start_server(emu, tmp_path / "a", TTSIGN_IDENTITY_SOCKET_CONNECTS_PER_HOUR="2")
    try:
        runs = three_node_connects(emu, rotating)
        for run in runs:
            assert_ok(run)
        assert emu.log("ws_reject") == []
        assert "spent its 2 socket connects this hour; rotating" in rotating.proc.stderr_text()
    finally:
        stop_cleanly(rotating.proc)
    unbudgeted = start_server(emu, tmp_path / "b")
    try:
        runs = three_node_connects(emu, unbudgeted)
        assert [run.outcome.get("ok") for run in runs] == [True, True, False]
        (reject,) = emu.log("ws_reject")
        assert (reject["status"], reject["handshake_msg"], reject["failed"]) == (
            415,
            "DEVICE_BLOCKED",
            ["connect_budget"],
        )
    finally:
        stop_cleanly(unbudgeted.proc)
        stop_cleanly(emu.proc)


# --- bad input ----------------------------------------------------------------------------------------------


def timed_connect(server: Server, path: str, params: dict[str, str]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(server.url + path, params=params, timeout=10)
    return response, time.monotonic() - started


def assert_typed(response: httpx.Response, elapsed: float, status: int, reason: str) -> None:
    assert elapsed < CLIENT_SIGN_TIMEOUT_S, elapsed
    assert (response.status_code, response.headers["x-log-code"]) == (status, reason), response.text
    body = response.json()
    assert (body["code"], body["reason"]) == (status, reason) and body["message"]


PATHS = [("/webcast/fetch", {"room_id": ROOM}), (f"/webcast/rooms/{ROOM}/connect", {})]


@pytest.mark.parametrize(("path", "params"), PATHS)
def test_a_room_that_is_not_live_is_a_typed_404(emu, cold_server, path, params) -> None:
    emu.patch_scenario({"room": {"state": "offline"}})
    response, elapsed = timed_connect(cold_server, path, {**params, "client": "ttlive-java"})
    assert_typed(response, elapsed, 404, "room_not_live")


def test_an_unknown_user_is_a_typed_404(emu, server) -> None:
    response, elapsed = timed_connect(server, "/webcast/fetch", {"unique_id": "nobody_here", "client": "ttlive-java"})
    assert_typed(response, elapsed, 404, "room_not_found")


@pytest.mark.parametrize(("path", "params"), PATHS)
def test_every_strategy_refused_is_a_typed_502_naming_each(emu, cold_server, path, params) -> None:
    emu.patch_scenario({"faults": {"room_info": {"empty_200": True}}})
    response, elapsed = timed_connect(cold_server, path, params)
    assert_typed(response, elapsed, 502, "empty_200")
    assert "direct: empty_200" in response.json()["message"] and "fetch: empty_200" in response.json()["message"]


def test_no_ttwid_after_every_try_is_a_typed_502_and_each_client_says_so(
    tmp_path: Path, default_scenario: dict[str, Any]
) -> None:
    """The cookie pages mint no ttwid on any of the bootstrap's tries: a typed error, fast, in every client."""
    scenario = {**copy.deepcopy(default_scenario), "era_2026_09": {"ttwid_mint_fraction": 0.001}}
    emu = start_emulator(scenario, strict=True, tls=True)
    server = start_server(emu, tmp_path, TTSIGN_BREAKER_FAILURE_THRESHOLD="1000")
    try:
        response, elapsed = timed_connect(server, "/webcast/fetch", {"room_id": ROOM, "client": "ttlive-java"})
        assert_typed(response, elapsed, 502, "no_ttwid")
        for client in ("py-7.0.1", "node-2.5.0"):
            if client_missing(client):
                continue
            run = run_client(client, emu.url, server.url, tls_url=emu.tls_url, timeout=20)
            assert run.outcome.get("ok") is False and run.returncode != 0, run.outcome
            assert "502" in json.dumps(run.outcome) or "no_ttwid" in json.dumps(run.outcome), run.outcome
    finally:
        stop_cleanly(server.proc)
        stop_cleanly(emu.proc)


def test_a_device_blocked_socket_retires_the_identity_and_a_fresh_one_serves(
    tmp_path: Path, default_scenario: dict[str, Any]
) -> None:
    """With the socket probe ttsign opens the socket itself first: TikTok (here) blocks a ttwid at its 3rd
    connect of the hour, so the 2nd client's connect finds its identity DEVICE_BLOCKED, retires it and serves
    a fresh one; both clients receive the scenario and TikTok never blocks a client's own socket."""
    need("node-2.5.0")
    scenario = {**default_scenario, "era_2026_09": {"socket_connects_per_hour": 2}}
    emu = start_emulator(scenario, strict=True, tls=True)
    server = start_server(emu, tmp_path, TTSIGN_DIRECT_SOCKET_PROBE="true")
    try:
        runs = [run_client("node-2.5.0", emu.url, server.url, tls_url=emu.tls_url, timeout=30) for _ in range(2)]
        for run in runs:
            assert_ok(run)
            assert run.pairs() == node_events(without_initial(default_scenario))
        (blocked,) = emu.log("ws_reject")  # the probe's 3rd connect with the first identity
        assert (blocked["status"], blocked["failed"]) == (415, ["connect_budget"])
        assert "retired: device_blocked" in server.proc.stderr_text()
        assert server.strategies() == ["direct", "direct"]
    finally:
        stop_cleanly(server.proc)
        stop_cleanly(emu.proc)
