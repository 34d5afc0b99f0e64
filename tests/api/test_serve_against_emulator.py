"""The real `ttsign serve --upstream` against the real `ttsign emulate`, both on port 0."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.harness import FETCH_PATH_ENV, EmulatorHandle, Proc, serve_argv
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOM = "7390000000000000001"  # the default scenario's room
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def start_server(upstream: str) -> Server:
    argv = serve_argv(upstream)
    proc = Proc(argv, name="server", env={"TTSIGN_CONTACT_EMAIL": "ops@example.org", **FETCH_PATH_ENV}).start()
    ready = proc.wait_ready()
    return Server(proc, ready["url"], ready)


@dataclass
class Server:
    proc: Proc
    url: str
    ready: dict[str, object]


@pytest.fixture(scope="module")
def server(emulator: EmulatorHandle) -> Iterator[Server]:
    server = start_server(emulator.url)
    yield server
    assert server.proc.stop() == 0, server.proc.stderr_text()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture(autouse=True)
def healthy_emulator(emulator: EmulatorHandle, http: httpx.Client) -> Iterator[None]:
    yield
    # Undo whatever a test switched on, so tests stay independent.
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {}, "room": {"state": "live"}})


def test_ready_line_shape(server: Server) -> None:
    assert server.ready["service"] == "server"
    assert server.ready["url"].startswith("http://127.0.0.1:")
    assert server.ready["tls_url"] is None


@pytest.mark.parametrize("path", ["/webcast/fetch", "/webcast/fetch/", f"/webcast/rooms/{ROOM}/connect"])
def test_connect_passes_strict_verification(
    server: Server, emulator: EmulatorHandle, http: httpx.Client, path: str
) -> None:
    http.delete(f"{emulator.url}/__emu/log")
    response = http.get(server.url + path, params={"client": "ttlive-python", "room_id": ROOM, "user_agent": CHROME_UA})
    assert response.status_code == 200, response.text
    result = ProtoMessageFetchResult()
    result.ParseFromString(response.content)
    assert result.is_first and result.cursor and result.route_params
    assert result.push_server.startswith(emulator.url.replace("http://", "ws://"))
    assert response.headers["x-set-tt-cookie"].startswith("ttwid=1%7C")
    assert response.headers["x-room-id"] == ROOM
    checks = emulator.log("strict_check")
    assert checks and all(c["ok"] for c in checks), checks
    fetches = [c for c in checks if c["path"] == "/webcast/im/fetch/"]
    assert fetches and "ttwid_cookie" in fetches[-1]["checks"]  # type: ignore[operator]


def test_room_states_become_404s(server: Server, emulator: EmulatorHandle, http: httpx.Client) -> None:
    missing = http.get(f"{server.url}/webcast/fetch", params={"room_id": "123"})
    assert missing.status_code == 404 and missing.json()["reason"] == "room_not_found"
    http.patch(f"{emulator.url}/__emu/scenario", json={"room": {"state": "offline"}})
    offline = http.get(f"{server.url}/webcast/fetch", params={"room_id": ROOM})
    assert offline.status_code == 404 and offline.json()["reason"] == "room_not_live"


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        ({"empty_200": True}, 502, "empty_200"),
        ({"captcha_html": True}, 502, "captcha"),
        ({"status_5xx": 503}, 502, "upstream_5xx"),
        ({"garbled_protobuf": True}, 502, "malformed_payload"),
        ({"reset": True}, 502, "transport_error"),
    ],
)
def test_upstream_faults_are_typed_refusals(
    server: Server, emulator: EmulatorHandle, http: httpx.Client, fault: dict[str, object], status: int, reason: str
) -> None:
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {"im_fetch": fault}})
    response = http.get(f"{server.url}/webcast/fetch", params={"room_id": ROOM})
    assert response.status_code == status, response.text
    assert response.json()["reason"] == reason
    assert response.headers["x-log-code"] == reason


def test_upstream_timeout_is_a_504_within_the_budget(
    server: Server, emulator: EmulatorHandle, http: httpx.Client
) -> None:
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {"im_fetch": {"timeout_s": 20}}})
    started = time.monotonic()
    response = http.get(f"{server.url}/webcast/fetch", params={"room_id": ROOM})
    elapsed = time.monotonic() - started
    assert response.status_code == 504 and response.json()["reason"] == "timeout"
    assert elapsed < 3.0  # below the Java client's 3 s timeout


def test_refused_identity_is_replaced_and_the_next_connect_works(
    server: Server, emulator: EmulatorHandle, http: httpx.Client
) -> None:
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {"im_fetch": {"empty_200": True, "times": 1}}})
    assert http.get(f"{server.url}/webcast/fetch", params={"room_id": ROOM}).status_code == 502
    assert http.get(f"{server.url}/webcast/fetch", params={"room_id": ROOM}).status_code == 200


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_the_server_cleanly(emulator: EmulatorHandle, sig: int) -> None:
    server = start_server(emulator.url)
    try:
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        os.kill(server.proc.pid, sig)
        assert server.proc.process is not None
        assert server.proc.process.wait(10) == 0
    finally:
        server.proc.stop()
    assert "Traceback" not in server.proc.stderr_text()


def test_unique_id_is_looked_up_on_the_emulator(server: Server, emulator: EmulatorHandle, http: httpx.Client) -> None:
    response = http.get(f"{server.url}/webcast/fetch", params={"client": "ttlive-node", "unique_id": "emu_streamer"})
    assert response.status_code == 200, response.text
    assert response.headers["x-room-id"] == ROOM
    unknown = http.get(f"{server.url}/webcast/fetch", params={"unique_id": "nobody_at_all"})
    assert unknown.status_code == 404 and unknown.json()["reason"] == "room_not_found"
