"""Issue 3 proof: the real clients connect through ``ttsign serve --upstream`` to the strict ``ttsign emulate``.

TikTokLive 7.0.1 and tiktok-live-connector 2.5.0, unmodified, ask the real sign server for the room; the server
bootstraps an identity on the emulator, signs ``/webcast/im/fetch/`` and hands the result to the client, which
then opens the emulator's push WebSocket. The same assertions as ``test_emulator_selftest.py`` (which uses the
emulator's stub-sign mode), plus what only a real server can show: the im/fetch passed strict verification,
carried Euler's ``notice``/``contact_us`` and both signatures, and every refusal reaches the client as the
client's own clean error.

One emulator and one server serve the whole module. Each test starts from the base scenario with an empty
emulator log, and switches room state, faults and strict policy at runtime with ``PATCH /__emu/scenario``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.e2e.expected import node_events, python_events
from tests.e2e.harness import (
    FETCH_PATH_ENV,
    ClientRun,
    EmulatorHandle,
    Proc,
    node_missing,
    run_node_client,
    run_python_client,
    serve_argv,
    start_emulator,
    stop_cleanly,
    strict_default_scenario,
)
from tests.e2e.session_log import (
    assert_fetch_through_ttsign,
    assert_push_session,
    assert_same_browser,
    http_calls,
    multimap,
    of_kind,
    wait_for_log,
    wait_until_answered,
    without_bootstrap,
)
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CONTACT = "e2e-operator@example.org"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
# What Java/Go clients wait for the sign server; a TikTok timeout must come back as a 504 before that.
CLIENT_SIGN_TIMEOUT_S = 3.0
# Method of the proto message each scenario event type becomes (webcast-protocol.md §3.4).
METHODS = {
    "chat": "WebcastChatMessage",
    "gift": "WebcastGiftMessage",
    "like": "WebcastLikeMessage",
    "member": "WebcastMemberMessage",
    "follow": "WebcastSocialMessage",
    "share": "WebcastSocialMessage",
    "social": "WebcastSocialMessage",
    "room_user_seq": "WebcastRoomUserSeqMessage",
    "control": "WebcastControlMessage",
}


@dataclass
class Server:
    proc: Proc
    url: str
    # Cookie values the server handed out; none may show up in its log.
    secrets: list[str] = field(default_factory=list)


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    return strict_default_scenario()


@pytest.fixture(scope="module")
def room(scenario: dict[str, Any]) -> str:
    return str(scenario["streamer"]["room_id"])


@pytest.fixture(scope="module")
def emu(scenario: dict[str, Any]) -> Iterator[EmulatorHandle]:
    handle = start_emulator(scenario, strict=True, tls=True, era="2026-08")  # the im/fetch path
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``ttsign serve --port 0 --upstream <emulator>``, URL read from its ready line; stopped by PID."""
    state = tmp_path_factory.mktemp("server-state")
    env = {
        **FETCH_PATH_ENV,  # this module proves the im/fetch path (before 2026-09); test_socket_era.py the direct one
        "TTSIGN_CONTACT_EMAIL": CONTACT,
        "TTSIGN_STORE_PATH": str(state / "ttsign.sqlite3"),
        # The room/identity circuit breakers would carry failures from one test into the next (the refusal
        # tests fail the same room and profiles on purpose); the fault suite tests them on their own.
        "TTSIGN_BREAKER_FAILURE_THRESHOLD": "1000",
        # Every connect comes from 127.0.0.1 without a key: tests/conftest.py lifts those limits for every
        # process a test starts.
    }
    argv = serve_argv(emu.url)
    proc = Proc(argv, name="server", env=env).start()
    ready = proc.wait_ready()
    assert ready["service"] == "server"
    assert ready["url"].startswith("http://127.0.0.1:")
    server = Server(proc, ready["url"])
    yield server
    stderr = stop_cleanly(proc)
    assert "Traceback" not in stderr
    assert not [secret for secret in server.secrets if secret in stderr], "a cookie value reached the server log"


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle, scenario: dict[str, Any]) -> None:
    """Base scenario (no faults, live room, fault counters reset) and an empty log before every test."""
    httpx.post(f"{emu.url}/__emu/scenario", json=scenario, timeout=10).raise_for_status()
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15, follow_redirects=False) as client:
        yield client


# --- helpers -----------------------------------------------------------------------------------------------


def python(emu: EmulatorHandle, server: Server, *extra: str) -> ClientRun:
    return run_python_client(emu.url, server.url, timeout=25, extra=list(extra))


def node(emu: EmulatorHandle, server: Server, *extra: str) -> ClientRun:
    # --ping-ms: the connector's first heartbeat otherwise comes 10 s after open.
    return run_node_client(emu.url, server.url, tls_url=emu.tls_url, timeout=25, extra=["--ping-ms", "200", *extra])


def skip_without_node() -> None:
    reason = node_missing()
    if reason:
        pytest.skip(reason)


def assert_ok(run: ClientRun) -> None:
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])
    assert run.returncode == 0


def assert_client_error(run: ClientRun, error: str, *fragments: str) -> None:
    """The client ended on its own error class (exit 3), not a crash (other exit) or a hang (exit 4)."""
    assert (run.returncode, run.outcome.get("error")) == (3, error), (run.outcome, run.stderr[-3000:])
    for fragment in fragments:
        assert fragment in run.outcome["message"], run.outcome


def assert_error_answer(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    """ttsign's JSON refusal: status, reason in body and X-Log-Code, the request id in body and header."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == status
    assert body["reason"] == reason
    assert body["message"]
    assert response.headers["x-log-code"] == reason
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# --- 1. the clients receive the scenario through ttsign ------------------------------------------------------


def test_python_client_receives_the_scenario_through_ttsign(
    emu: EmulatorHandle, server: Server, scenario: dict[str, Any], room: str
) -> None:
    run = python(emu, server)
    assert_ok(run)
    assert run.pairs() == python_events(scenario)
    connect = run.events[0]
    assert (connect["room_id"], connect["unique_id"]) == (room, scenario["streamer"]["unique_id"])
    gift = next(e for e in run.events if e["event"] == "Gift")
    scenario_gift = next(s for s in scenario["timeline"] if s["type"] == "gift")
    assert (gift["gift_id"], gift["repeat_count"]) == (str(scenario_gift["gift"]["id"]), scenario_gift["repeat_count"])
    comment = next(e for e in run.events if e["event"] == "Comment")
    assert comment["content"] == next(s for s in scenario["timeline"] if s["type"] == "chat")["content"]

    log = emu.log()
    assert without_bootstrap(http_calls(log)) == [
        ("GET", f"/@{scenario['streamer']['unique_id']}/live"),
        ("GET", "/webcast/room/check_alive/"),
        ("GET", "/webcast/im/fetch/"),  # from ttsign, on the client's behalf
    ]
    fetch = assert_fetch_through_ttsign(log, room, contact=CONTACT)
    handshake = assert_push_session(log, scenario, room, client_close_code=1000)
    assert_same_browser(fetch, handshake)


def test_node_client_receives_the_scenario_through_ttsign(
    emu: EmulatorHandle, server: Server, scenario: dict[str, Any], room: str
) -> None:
    skip_without_node()
    run = node(emu, server)
    assert_ok(run)
    assert run.pairs() == node_events(scenario)
    assert next(e for e in run.events if e["event"] == "connected")["room_id"] == room
    gift = next(e for e in run.events if e["event"] == "gift")
    scenario_gift = next(s for s in scenario["timeline"] if s["type"] == "gift")
    assert (gift["gift_id"], gift["repeat_count"]) == (str(scenario_gift["gift"]["id"]), scenario_gift["repeat_count"])
    assert run.events[-1]["event"] == "disconnected" and run.events[-1]["code"] == 1000

    log = emu.log()
    assert without_bootstrap(http_calls(log)) == [
        ("GET", f"/@{scenario['streamer']['unique_id']}/live"),
        ("GET", "/webcast/room/info/"),
        ("GET", "/webcast/im/fetch/"),
    ]
    fetch = assert_fetch_through_ttsign(log, room, contact=CONTACT)
    # The connector closes with an empty close frame (no status code).
    handshake = assert_push_session(log, scenario, room, client_close_code=1005)
    assert_same_browser(fetch, handshake)
    # The connector sends back the cursor and internal_ext of the fetch result ttsign relayed.
    query = multimap(handshake["query"])
    assert len(query["cursor"]) == 1 and query["cursor"][0]
    assert len(query["internal_ext"]) == 1 and room in query["internal_ext"][0]


@pytest.mark.parametrize("path", ["/webcast/fetch", "/webcast/fetch/", "/webcast/rooms/{room}/connect"])
def test_connect_answer_shape(
    emu: EmulatorHandle, server: Server, http: httpx.Client, scenario: dict[str, Any], room: str, path: str
) -> None:
    params = {"client": "ttlive-python", "user_agent": CHROME_UA}
    if "{room}" not in path:
        params["room_id"] = room
    response = http.get(server.url + path.format(room=room), params=params)
    assert response.status_code == 200, response.text  # served as-is: no redirect between /x and /x/
    assert "location" not in response.headers
    assert "protobuf" in response.headers["content-type"]
    assert "x-log-code" not in response.headers
    result = ProtoMessageFetchResult.FromString(response.content)
    assert result.is_first and result.cursor and result.internal_ext
    assert dict(result.route_params) == scenario["websocket"]["route_params"]
    assert result.push_server == emu.url.replace("http://", "ws://") + "/webcast/im/ws_proxy/ws_reuse_supplement/"
    assert [m.method for m in result.messages] == [METHODS[s["type"]] for s in scenario["initial"]]
    assert [str(m.msg_id) for m in result.messages] == [str(s["id"]) for s in scenario["initial"]]
    cookie = response.headers["x-set-tt-cookie"]
    assert cookie.startswith("ttwid=")
    server.secrets.append(cookie.split(";", 1)[0].removeprefix("ttwid="))
    assert response.headers["x-room-id"] == room
    assert response.headers["x-request-id"]

    fetch = assert_fetch_through_ttsign(emu.log(), room, contact=CONTACT)
    assert fetch["user_agent"] == CHROME_UA  # the caller's browser, honoured

    # The ttwid ttsign handed over is one the emulator issued: the strict push handshake accepts it.
    ttwid = cookie.split(";", 1)[0]
    query = "&".join([f"room_id={room}", *(f"{k}={v}" for k, v in scenario["websocket"]["route_params"].items())])
    headers = {"Cookie": ttwid, "User-Agent": CHROME_UA}
    with ws_connect(f"{result.push_server}?{query}", additional_headers=headers, open_timeout=5, close_timeout=5):
        pass
    log = wait_for_log(emu, lambda entries: bool(of_kind(entries, "ws_close")))
    (ws_check,) = of_kind(log, "ws_strict_check")
    assert ws_check["ok"] is True
    assert of_kind(log, "ws_handshake")[0]["ttwid_issued"] is True


# --- 2. refusals end in the client's own clean error -------------------------------------------------------


def test_room_offline(emu: EmulatorHandle, server: Server, http: httpx.Client, room: str) -> None:
    skip_without_node()  # both client families or neither: never half the claim
    emu.patch_scenario({"room": {"state": "offline"}})
    body = assert_error_answer(http.get(f"{server.url}/webcast/fetch", params={"room_id": room}), 404, "room_not_live")
    assert "not live" in body["message"]

    # The clients' own live checks see it first ...
    assert_client_error(python(emu, server), "UserOfflineError")
    # ... and without them (room id given, no live check) ttsign reports it, and the client shows its reason.
    direct = python(emu, server, "--room-id", room, "--no-live-check")
    assert_client_error(direct, "SignAPIError", "404", "room_not_live")
    assert_client_error(node(emu, server), "UserOfflineError")
    assert_client_error(node(emu, server, "--no-room-info"), "SignAPIError", "404", "room_not_live")
    log = emu.log()
    fetches = [e for e in of_kind(log, "http") if e["route"] == "im_fetch"]
    assert fetches and all(e["status"] == 200 for e in fetches)  # TikTok's JSON 30003, verified and signed
    assert all(check["ok"] for check in of_kind(log, "strict_check"))
    assert not [e for e in log if e["kind"].startswith("ws_")]


def test_user_not_found(emu: EmulatorHandle, server: Server, http: httpx.Client, room: str) -> None:
    skip_without_node()  # both client families or neither: never half the claim
    emu.patch_scenario({"room": {"state": "not_found"}})
    by_room = http.get(f"{server.url}/webcast/fetch", params={"room_id": room})
    assert_error_answer(by_room, 404, "room_not_found")
    by_user = http.get(f"{server.url}/webcast/fetch", params={"client": "ttlive-node", "unique_id": "emu_streamer"})
    assert_error_answer(by_user, 404, "room_not_found")

    assert_client_error(python(emu, server), "UserNotFoundError")
    direct = python(emu, server, "--room-id", room, "--no-live-check")
    assert_client_error(direct, "SignAPIError", "404", "room_not_found")
    assert_client_error(node(emu, server), "InvalidResponseCompositeError")
    assert not [e for e in emu.log() if e["kind"].startswith("ws_")]


@pytest.mark.parametrize(
    ("strict", "failed"),
    [
        # TikTok has moved on to a signer version ttsign does not produce.
        ({"gnarly_versions": ["9.9.9"]}, ["x_gnarly.version"]),
        # TikTok's clock is an hour ahead: the signature timestamps are stale.
        ({"clock_skew_s": 3600}, ["x_bogus.time", "x_gnarly.time"]),
    ],
    ids=["signer-version", "clock-skew"],
)
def test_refused_signature(
    emu: EmulatorHandle,
    server: Server,
    http: httpx.Client,
    room: str,
    strict: dict[str, Any],
    failed: list[str],
) -> None:
    skip_without_node()  # both client families or neither: never half the claim
    emu.patch_scenario({"strict": strict})
    body = assert_error_answer(http.get(f"{server.url}/webcast/fetch", params={"room_id": room}), 502, "empty_200")
    assert "signature" in body["message"]

    assert_client_error(python(emu, server), "SignAPIError", "502", "empty_200")
    assert_client_error(node(emu, server), "SignAPIError", "502", "empty_200")
    connects = 3  # the route above, Python and Node
    log = emu.log()
    checks = of_kind(log, "strict_check")
    assert [sorted(c["failed"]) for c in checks] == [failed] * connects
    assert [r["failed"] for r in of_kind(log, "strict_reject")] == [sorted(failed)] * connects
    # Reported, not retried blindly: one im/fetch per connect, each TikTok's silent refusal.
    fetches = [e for e in of_kind(log, "http") if e["route"] == "im_fetch"]
    assert [(e["status"], e["ttwid_issued"]) for e in fetches] == [(200, True)] * connects
    assert not [e for e in log if e["kind"].startswith("ws_")]


def test_websocket_refused_with_device_blocked(
    emu: EmulatorHandle, server: Server, http: httpx.Client, scenario: dict[str, Any], room: str
) -> None:
    skip_without_node()  # both client families or neither: never half the claim
    reject = {"status": 400, "handshake_msg": "DEVICE_BLOCKED"}
    emu.patch_scenario({"websocket": {**scenario["websocket"], "reject": reject}})
    # The sign step still succeeds: it is the push WebSocket that TikTok refuses.
    assert http.get(f"{server.url}/webcast/fetch", params={"room_id": room}).status_code == 200

    assert_client_error(python(emu, server), "WebcastBlockedError", "DEVICE_BLOCKED")
    # The connector's own error for a refused upgrade, carrying the Handshake-Msg.
    assert_client_error(node(emu, server), "Error", "Error connecting to WebSocket", "DEVICE_BLOCKED")
    clients = 2
    log = emu.log()
    assert [(r["status"], r["handshake_msg"]) for r in of_kind(log, "ws_reject")] == [(400, "DEVICE_BLOCKED")] * clients
    assert not of_kind(log, "ws_open")
    assert all(check["ok"] for check in of_kind(log, "strict_check"))


def test_upstream_timeout(emu: EmulatorHandle, server: Server, http: httpx.Client, room: str) -> None:
    skip_without_node()  # both client families or neither: never half the claim
    latency_ms = 4000  # longer than the server's upstream deadline
    emu.patch_scenario({"faults": {"im_fetch": {"latency_ms": latency_ms}}})
    started = time.monotonic()
    response = http.get(f"{server.url}/webcast/fetch", params={"room_id": room})
    elapsed = time.monotonic() - started
    assert_error_answer(response, 504, "timeout")
    assert elapsed < CLIENT_SIGN_TIMEOUT_S

    assert_client_error(python(emu, server), "SignAPIError", "504", "timeout")
    assert_client_error(node(emu, server), "SignAPIError", "504", "timeout")
    connects = 3  # the route above, Python and Node

    # The slow answers still finish on the emulator: wait for them, so none lands in the next test's log.
    log = wait_until_answered(emu, "im_fetch", timeout=latency_ms / 1000 + 5)
    fetches = [e for e in of_kind(log, "http") if e["route"] == "im_fetch"]
    # At least one attempt per connect (ttsign may retry a timeout inside its budget), and ttsign gave up on
    # every one of them (the emulator saw its caller leave) rather than waiting them out.
    assert len(fetches) >= connects
    assert {(e["fault"], e.get("client_gone")) for e in fetches} == {("latency", True)}
    assert not [e for e in log if e["kind"].startswith("ws_")]
