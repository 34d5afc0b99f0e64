"""Size limits and hostile bodies against a real `ttsign serve` (issue 12, items 6 and 8): a 32 MB header,
a head just over the cap in one read, a body over the cap, JSON nested 1,000 deep on every JSON route, and a
client hanging up mid-body. Each gets its typed answer (or, for the hang-up, its own outcome), never a 500.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import EmulatorHandle, start_emulator, ttsign_keys
from tests.security.live_server import (
    LiveServer,
    connect,
    head,
    live_server,
    metric_total,
    read_answer,
    wait_closed,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

MAX_HEADER_BYTES = 16 * 1024  # the default
MAX_BODY_BYTES = 64 * 1024  # the default
DEEP = 1000


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(None, strict=True, tls=False)
    yield handle
    handle.proc.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("limits")


@pytest.fixture(scope="module")
def server(emulator: EmulatorHandle, store: Path) -> Iterator[LiveServer]:
    with live_server(emulator, store, TTSIGN_CHAT_ENABLED="true") as running:
        yield running


@pytest.fixture(scope="module")
def chat_key(store: Path) -> str:
    created = ttsign_keys({"TTSIGN_STORE_PATH": str(store / "keys.sqlite3")}, "create", "--name", "probe", "--chat")
    return str(created["api_key"])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_32_mb_header_is_refused_with_431_without_being_buffered(server: LiveServer) -> None:
    before = rss_kib(server.proc.pid)
    with connect(server.port, timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        sent = 0
        try:
            while sent < 32 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
            sock.sendall(b"\r\n\r\n")
        except OSError:  # the server closed the connection once past the cap: nothing more to send
            pass
        answer = read_answer(sock, time.monotonic() + 10)
    assert answer is not None and answer.status == 431, answer
    assert json.loads(answer.body)["reason"] == "headers_too_large"
    assert answer.closed
    print(f"\n32 MB header: refused after {sent // 1024} KiB were sent, RSS {before} -> {rss_kib(server.proc.pid)} KiB")
    assert rss_kib(server.proc.pid) - before < 8 * 1024  # never held anywhere near the 32 MB
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_a_head_just_over_the_cap_in_one_read_is_431_and_one_under_is_served(server: LiveServer) -> None:
    over = httpx.get(f"{server.url}/healthz", headers={"X-Big": "a" * MAX_HEADER_BYTES}, timeout=5)
    assert over.status_code == 431
    assert over.json()["reason"] == "headers_too_large"
    under = httpx.get(f"{server.url}/healthz", headers={"X-Big": "a" * (MAX_HEADER_BYTES - 1024)}, timeout=5)
    assert under.status_code == 200


def test_a_body_over_the_cap_is_413_and_the_connection_is_closed_unread(server: LiveServer) -> None:
    with connect(server.port) as sock:
        sock.sendall(
            head(
                "POST",
                "/webcast/sign_url",
                "Content-Type: application/json",
                f"Content-Length: {100 * 1024 * 1024}",
                "Expect: 100-continue",
            )
        )
        answer = read_answer(sock, time.monotonic() + 5)
        assert answer is not None and answer.status == 413, answer
        assert json.loads(answer.body)["reason"] == "payload_too_large"
        # No 100 Continue was sent and the server does not wait for 100 MB it would throw away.
        assert answer.closed or wait_closed(sock, time.monotonic() + 2) is not None


def test_a_streamed_body_over_the_cap_is_413_and_closes_the_connection(server: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 8192 + 2):
            yield b" " * 8192

    response = httpx.post(
        f"{server.url}/webcast/sign_url", content=chunks(), headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 413
    assert response.json()["reason"] == "payload_too_large"
    assert response.headers["connection"] == "close"  # the rest of the stream is not read


def deep(levels: int) -> bytes:
    return b'{"a": ' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize("path", ["/webcast/sign_url", "/tiktok/sign_url"])
def test_json_nested_1000_deep_is_a_400_on_sign_url(server: LiveServer, path: str) -> None:
    response = httpx.post(
        f"{server.url}{path}", content=deep(DEEP), headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "bad_request"
    assert "nested too deeply" in response.json()["message"]


def test_json_nested_1000_deep_is_a_400_on_token_minting(server: LiveServer, chat_key: str) -> None:
    response = httpx.post(
        f"{server.url}/accounts/me/jwt",
        content=deep(DEEP),
        headers={"Content-Type": "application/json", "X-Api-Key": chat_key},
        timeout=5,
    )
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "bad_request"
    assert "nested too deeply" in response.json()["message"]


def test_json_nested_1000_deep_is_a_400_on_chat(server: LiveServer, chat_key: str) -> None:
    response = httpx.post(
        f"{server.url}/webcast/chat",
        content=deep(DEEP),
        headers={"Content-Type": "application/json", "X-Api-Key": chat_key, "User-Agent": "tiktok-live-connector/2"},
        timeout=5,
    )
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["message"]


def test_a_hang_up_mid_body_is_counted_as_client_closed_not_as_an_error(server: LiveServer) -> None:
    def scrape() -> str:
        return httpx.get(f"{server.url}/metrics", timeout=5).text

    errors_before = metric_total(scrape(), "ttsign_http_requests_total", status="500")
    closed_before = metric_total(scrape(), "ttsign_http_requests_total", status="499")
    hang_ups = 5
    for _ in range(hang_ups):
        with connect(server.port) as sock:
            sock.sendall(head("POST", "/webcast/sign_url", "Content-Type: application/json", "Content-Length: 1000"))
            sock.sendall(b'{"url": "https://webcast.tiktok.com/')
    deadline = time.monotonic() + 5
    while metric_total(text := scrape(), "ttsign_http_requests_total", status="499") < closed_before + hang_ups:
        assert time.monotonic() < deadline, "the hang-ups were never counted as client_closed"
        time.sleep(0.05)
    assert metric_total(text, "ttsign_http_requests_total", status="500") == errors_before
    logged = [json.loads(line) for line in server.stderr_lines() if line.startswith("{")]
    assert not [entry for entry in logged if entry.get("level") == "ERROR"], "a hang-up was logged as an error"
