"""The fault suite: the real `ttsign serve` against the real `ttsign emulate`, one injected TikTok fault at a time.

Each fault must come back as its typed answer (status, JSON reason, X-Log-Code), inside the upstream budget
(below the Java client's 3 s), with transient faults retried and refusals not; never a 500, never a hang.
After each fault the server is still live and ready, and serves the next request correctly.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import FETCH_PATH_ENV, EmulatorHandle, Proc, serve_argv

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ROOM = "7390000000000000001"  # the default scenario's room
IM_FETCH = "/webcast/im/fetch/"
BUDGET_S = 2.5  # upstream_total_timeout_s
CLIENT_TIMEOUT_S = 3.0  # the Java client's


def start_server(upstream: str, tmp: Path, **env: str) -> tuple[Proc, str]:
    environment = {
        "TTSIGN_STORE_PATH": str(tmp / "keys.sqlite3"),
        "TTSIGN_CONTACT_EMAIL": "ops@example.org",
        **FETCH_PATH_ENV,  # these tests inject faults into im/fetch: the path before 2026-09
        **env,  # the anonymous and per-IP limits are lifted for every test process by tests/conftest.py
    }
    argv = serve_argv(upstream)
    proc = Proc(argv, name="faults-server", env=environment).start()
    return proc, proc.wait_ready()["url"]


@pytest.fixture(scope="module")
def server(emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, str]]:
    proc, url = start_server(emulator.url, tmp_path_factory.mktemp("faults"))
    yield proc, url
    assert proc.stop() == 0
    stderr = proc.stderr_text()
    assert "Traceback" not in stderr
    for line in stderr.splitlines():  # structured logs: every line is one JSON object
        json.loads(line)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def clean_emulator(emulator: EmulatorHandle, http: httpx.Client) -> Iterator[None]:
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {}, "room": {"state": "live"}})
    http.delete(f"{emulator.url}/__emu/log")
    yield
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {}, "room": {"state": "live"}})


def inject(emulator: EmulatorHandle, http: httpx.Client, fault: dict[str, Any]) -> None:
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {"im_fetch": fault}}).raise_for_status()


def fetches(emulator: EmulatorHandle) -> int:
    return sum(1 for entry in emulator.log("http") if entry.get("path") == IM_FETCH)


def connect(http: httpx.Client, url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.get(f"{url}/webcast/fetch", params={"room_id": ROOM, "client": "ttlive-java"})
    return response, time.monotonic() - started


def metric(http: httpx.Client, url: str, name: str, **labels: str) -> float:
    text = http.get(f"{url}/metrics").text
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.compile(rf"^{re.escape(name)}\{{([^}}]*)\}} (\S+)$", re.MULTILINE)
    total = 0.0
    for match in pattern.finditer(text):
        found = ",".join(sorted(match.group(1).split(",")))
        if found == wanted:
            total += float(match.group(2))
    return total


def assert_healthy_and_serving(emulator: EmulatorHandle, http: httpx.Client, url: str) -> None:
    """After a fault: live, ready, and the next connect (TikTok healed) succeeds."""
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {}})
    assert http.get(f"{url}/healthz").status_code == 200
    ready = http.get(f"{url}/readyz")
    assert ready.status_code == 200, ready.text
    response, _ = connect(http, url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-protobuf")


def assert_typed(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["reason"] == reason and body["code"] == status
    assert response.headers["x-log-code"] == reason
    assert response.headers["x-request-id"] == body["request_id"]


def test_latency_within_the_budget_is_a_success(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client
) -> None:
    _, url = server
    inject(emulator, http, {"latency_ms": 700})
    response, elapsed = connect(http, url)
    assert response.status_code == 200, response.text
    assert 0.7 <= elapsed < BUDGET_S
    assert fetches(emulator) == 1


def test_a_hanging_tiktok_is_a_504_inside_the_budget(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client
) -> None:
    _, url = server
    inject(emulator, http, {"timeout_s": 1.5})  # longer than one try (half the budget)
    response, elapsed = connect(http, url)
    assert_typed(response, 504, "timeout")
    assert elapsed < CLIENT_TIMEOUT_S
    # The first try was cut at half the budget and tried once more. The emulator logs a hung request
    # when its hang ends, so wait (bounded) for the second entry.
    deadline = time.monotonic() + 3
    while fetches(emulator) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fetches(emulator) == 2
    assert_healthy_and_serving(emulator, http, url)


def test_a_persistent_5xx_is_retried_then_a_502(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client
) -> None:
    _, url = server
    retries_before = metric(http, url, "ttsign_upstream_retries_total", step="im_fetch", reason="upstream_5xx")
    inject(emulator, http, {"status_5xx": 503})
    response, elapsed = connect(http, url)
    assert_typed(response, 502, "upstream_5xx")
    assert elapsed < CLIENT_TIMEOUT_S
    assert fetches(emulator) == 3  # upstream_max_attempts
    retries = metric(http, url, "ttsign_upstream_retries_total", step="im_fetch", reason="upstream_5xx")
    assert retries - retries_before == 2
    assert_healthy_and_serving(emulator, http, url)


@pytest.mark.parametrize("fault", [{"status_5xx": 502, "times": 2}, {"reset": True, "times": 1}])
def test_a_transient_fault_that_clears_is_retried_to_success(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client, fault: dict[str, Any]
) -> None:
    _, url = server
    inject(emulator, http, fault)
    response, elapsed = connect(http, url)
    assert response.status_code == 200, response.text
    assert elapsed < BUDGET_S
    assert fetches(emulator) == fault["times"] + 1


def test_a_persistent_reset_is_retried_then_a_502(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client
) -> None:
    _, url = server
    retries_before = metric(http, url, "ttsign_upstream_retries_total", step="im_fetch", reason="transport_error")
    inject(emulator, http, {"reset": True})
    response, elapsed = connect(http, url)
    assert_typed(response, 502, "transport_error")
    assert elapsed < CLIENT_TIMEOUT_S
    retries = metric(http, url, "ttsign_upstream_retries_total", step="im_fetch", reason="transport_error")
    assert retries - retries_before == 2
    # libcurl itself resends once when a reused keep-alive connection turns out dead, so 3 tries can be 4+ hits
    assert fetches(emulator) >= 3
    assert_healthy_and_serving(emulator, http, url)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"garbled_protobuf": True}, "malformed_payload"),
        ({"captcha_html": True}, "captcha"),
        ({"empty_200": True}, "empty_200"),
    ],
)
def test_refusals_are_typed_and_never_retried(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client, fault: dict[str, Any], reason: str
) -> None:
    _, url = server
    refusals_before = metric(http, url, "ttsign_upstream_refusals_total", reason=reason)
    inject(emulator, http, fault)
    response, elapsed = connect(http, url)
    assert_typed(response, 502, reason)
    assert elapsed < CLIENT_TIMEOUT_S
    assert fetches(emulator) == 1
    assert metric(http, url, "ttsign_upstream_refusals_total", reason=reason) - refusals_before == 1
    assert_healthy_and_serving(emulator, http, url)


def test_the_cookie_page_failing_is_typed_too(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client
) -> None:
    """A cold identity: the bootstrap itself meets the fault (a new browser UA forces a new identity)."""
    _, url = server
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {"user_html": {"captcha_html": True}}})
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0"
    response = http.get(f"{url}/webcast/fetch", params={"room_id": ROOM, "user_agent": firefox})
    assert response.status_code == 502, response.text
    assert response.headers["x-log-code"] == "captcha"  # the emulator's WAF page, read as one
    assert_healthy_and_serving(emulator, http, url)


def test_breaker_opens_refuses_fast_then_recovers(emulator: EmulatorHandle, http: httpx.Client, tmp_path: Path) -> None:
    proc, url = start_server(
        emulator.url,
        tmp_path,
        TTSIGN_BREAKER_FAILURE_THRESHOLD="2",
        TTSIGN_BREAKER_COOLDOWN_S="1.5",
        TTSIGN_UPSTREAM_MAX_ATTEMPTS="1",
        TTSIGN_READY_REQUIRES_UPSTREAM="true",
    )
    try:
        inject(emulator, http, {"status_5xx": 503})
        for _ in range(2):
            assert_typed(connect(http, url)[0], 502, "upstream_5xx")
        sent = fetches(emulator)
        response, elapsed = connect(http, url)
        assert_typed(response, 503, "circuit_open")
        assert 1 <= int(response.headers["retry-after"]) <= 2
        assert elapsed < 0.5 and fetches(emulator) == sent  # refused without calling TikTok
        assert http.get(f"{url}/readyz").status_code == 200  # a room's breaker is not the whole upstream
        assert metric(http, url, "ttsign_breakers_open", scope="room") == 1
        http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {}})
        time.sleep(1.6)  # cooldown over: the half-open probe goes through and closes the breaker
        assert connect(http, url)[0].status_code == 200
        assert connect(http, url)[0].status_code == 200
        assert metric(http, url, "ttsign_breaker_transitions_total", scope="room", state="closed") == 1
    finally:
        assert proc.stop() == 0
    assert "Traceback" not in proc.stderr_text()


def test_identity_breaker_makes_the_server_unready_when_asked_to(
    emulator: EmulatorHandle, http: httpx.Client, tmp_path: Path
) -> None:
    proc, url = start_server(
        emulator.url,
        tmp_path,
        TTSIGN_BREAKER_FAILURE_THRESHOLD="2",
        TTSIGN_BREAKER_COOLDOWN_S="30",
        TTSIGN_READY_REQUIRES_UPSTREAM="true",
    )
    try:
        http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {"user_html": {"status_5xx": 503}}})
        for _ in range(2):
            assert connect(http, url)[0].status_code == 502
        assert_typed(connect(http, url)[0], 503, "circuit_open")
        ready = http.get(f"{url}/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not_ready" and body["checks"]["upstream"]["ok"] is False
        assert body["checks"]["store"]["ok"] is True and body["checks"]["signer"]["ok"] is True
        assert http.get(f"{url}/healthz").status_code == 200  # alive all the same
    finally:
        assert proc.stop() == 0


def test_every_log_line_of_a_request_carries_its_id(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client
) -> None:
    proc, url = server
    inject(emulator, http, {"status_5xx": 503})
    response, _ = connect(http, url)
    request_id = response.headers["x-request-id"]
    lines = [json.loads(line) for line in proc.stderr_text().splitlines()]
    mine = [line for line in lines if line.get("request_id") == request_id]
    # two retries and the final refusal, all logged while the request was handled
    assert sum("retrying" in line["message"] for line in mine) == 2
    assert any("refused: upstream_5xx" in line["message"] for line in mine)
    assert all(line.get("request_id") for line in lines if "retrying" in line["message"])


def test_a_hanging_room_lookup_is_a_504_inside_the_budget(
    server: tuple[Proc, str], emulator: EmulatorHandle, http: httpx.Client
) -> None:
    _, url = server
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {"api_live": {"timeout_s": 4}}})
    started = time.monotonic()
    response = http.get(f"{url}/webcast/room_id", params={"uniqueId": "emu_streamer"})
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert response.json()["code"] == 504 and response.json()["ok"] is False
    assert response.headers["x-log-code"] == "timeout"
    assert elapsed < CLIENT_TIMEOUT_S
    http.patch(f"{emulator.url}/__emu/scenario", json={"faults": {}})
    time.sleep(1.6)  # the abandoned lookup ends with the transport's own timeout; timeouts are not cached
    healed = http.get(f"{url}/webcast/room_id", params={"uniqueId": "emu_streamer"})
    assert healed.status_code == 200 and healed.json()["room_id"] == ROOM
