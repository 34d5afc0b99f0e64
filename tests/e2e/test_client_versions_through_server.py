"""Issue 4 proof: the OLDER real clients through ``ttsign serve --upstream`` to the strict ``ttsign emulate``.

TikTokLive 6.6.6 / 5.0.8 and tiktok-live-connector 2.3.0-beta1 / 1.2.3 connect through the real sign server
(each in its own dialect: /webcast/fetch, /webcast/fetch/ with TikTok's query, legacy GET /webcast/sign_url),
and TikTokLive 7.0.1's build_request(sign_url=True), 2.3's signed requests and 2.5.0's gift-list signing get URLs
that pass every signature and consistency check. Expected events: expected.py / expected_legacy.py.
A version is skipped only when it is not installed (scripts/e2e-deps.sh).

One emulator and one server serve the module; each test starts from the default scenario and an empty log.
The server's sign_url allow-list is widened to 127.0.0.1: 1.x and the sign_url paths sign URLs on the
emulator's host (the clients were pointed there), which the default allow-list rightly refuses.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.expected import node_events, python_events
from tests.e2e.expected_legacy import node12_events, py508_events
from tests.e2e.harness import FETCH_PATH_ENV, ClientRun, EmulatorHandle, Proc, serve_argv, start_emulator, ttsign_keys
from tests.e2e.legacy_clients import CLIENTS_ALL, client_missing, run_client, run_node, run_python_sign_url
from ttsign.signing import verify_request

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

EXPECTED = {
    "py-6.6.6": python_events,
    "py-5.0.8": py508_events,
    "node-2.3.0-beta1": node_events,
    "node-1.2.3": node12_events,
}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator(None, strict=True, tls=True, era="2026-08")  # the im/fetch path
    yield handle
    assert handle.proc.stop() == 0, handle.proc.stderr_text()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-state") / "ttsign.sqlite3"


@dataclass
class Server:
    proc: Proc
    url: str
    seen: int = 0

    def assert_no_new_traceback(self) -> None:
        """No traceback in the server's stderr since the last call (a test ends with this)."""
        text = self.proc.stderr_text()
        new, self.seen = text[self.seen :], len(text)
        assert "Traceback" not in new, new[-4000:]


@pytest.fixture(scope="module")
def server_proc(emu: EmulatorHandle, store: Path) -> Iterator[Server]:
    env = {
        **FETCH_PATH_ENV,  # this module proves the im/fetch path (before 2026-09); test_socket_era.py the direct one
        "TTSIGN_STORE_PATH": str(store),
        "TTSIGN_SIGN_ALLOWED_HOSTS": '["webcast.tiktok.com", "*.tiktok.com", "127.0.0.1"]',
    }
    argv = serve_argv(emu.url)
    proc = Proc(argv, name="server", env=env).start()
    yield Server(proc, str(proc.wait_ready()["url"]))
    assert proc.stop() == 0, proc.stderr_text()


@pytest.fixture
def server(server_proc: Server) -> Iterator[str]:
    """The server's URL; the test fails if the server logged a traceback while it ran."""
    server_proc.assert_no_new_traceback()  # a previous (xfail) test's traceback is not this test's
    yield server_proc.url
    server_proc.assert_no_new_traceback()


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle, default_scenario: dict[str, Any]) -> None:
    httpx.post(f"{emu.url}/__emu/scenario", json=default_scenario, timeout=10).raise_for_status()
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


def need(client: str) -> None:
    reason = client_missing(client)
    if reason:
        pytest.skip(reason)


def assert_ok(run: ClientRun) -> None:
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])
    assert run.returncode == 0


def failures(url: str, user_agent: str) -> set[str]:
    return {c.name for c in verify_request(url, "", user_agent, now_ms=int(time.time() * 1000)).failures}


@pytest.mark.parametrize("client", sorted(EXPECTED))
def test_older_client_receives_the_scenario_through_ttsign(client, emu, server, default_scenario) -> None:
    need(client)
    run = run_client(client, emu.url, server, tls_url=emu.tls_url, timeout=30)
    assert_ok(run)
    assert run.pairs() == EXPECTED[client](default_scenario)
    log = emu.log()
    checks = [e for e in log if e["kind"] == "strict_check"]
    assert checks and all(e["ok"] for e in checks), [e.get("failed") for e in checks]
    assert [e["ok"] for e in log if e["kind"] == "ws_strict_check"] == [True]
    fetches = [e for e in log if e["kind"] == "http" and e["path"] == "/webcast/im/fetch/"]
    # 1.x fetches im/fetch itself with the signed URL; everyone else gets it from ttsign.
    assert len(fetches) == 1
    if client == "node-1.2.3":
        assert fetches[0]["user_agent"].startswith("Mozilla/5.0")


USER_AGENTS = {
    "chrome-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "firefox-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:150.0) Gecko/20100101 Firefox/150.0",
    "safari-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 15_7_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/26.0 Safari/605.1.15",
    "edge-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36 Edg/128.0.2739.79",
    # Two of TikTokLive 7.0.1's nine device presets are Opera.
    "opera-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/147.0.0.0 Safari/537.36 OPR/131.0.0.0",
}


@pytest.mark.parametrize("user_agent", list(USER_AGENTS.values()), ids=list(USER_AGENTS))
def test_tiktoklive_701_sign_url_through_ttsign_passes_strict_mode(user_agent, emu, server) -> None:
    run = run_python_sign_url(emu.url, server, extra=["--user-agent", user_agent])
    assert_ok(run)
    (signed,) = run.events
    assert failures(signed["url"], signed["user_agent"]) == set()
    ttwid = httpx.get(emu.url + "/", timeout=10).cookies["ttwid"]
    response = httpx.get(signed["url"], headers={"User-Agent": signed["user_agent"]}, cookies={"ttwid": ttwid})
    assert response.status_code == 200 and response.content
    assert [e["ok"] for e in emu.log("strict_check")] == [True]


@pytest.mark.parametrize(("client", "script"), [("2.5.0", "sign_gift_list.mjs"), ("2.3.0-beta1", "sign_url.mjs")])
def test_node_signed_gift_list_through_ttsign_passes_every_check(client, script, emu, server) -> None:
    need(f"node-{client}")
    run = run_node(client, emu.url, server, script=script, tls_url=emu.tls_url, timeout=20)
    assert_ok(run)
    assert run.outcome["gifts"] >= 1
    (signed,) = run.events
    assert "/webcast/gift/list/?" in signed["signed_url"]
    assert failures(signed["signed_url"], signed["user_agent"]) == set()


def test_node_23_room_id_fallback_through_ttsign(emu, server, default_scenario) -> None:
    need("node-2.3.0-beta1")
    run = run_node("2.3.0-beta1", emu.url, server, tls_url=emu.tls_url, timeout=30, extra=["--euler-room-id"])
    assert_ok(run)
    # HTML and api-live sources are skipped in the client: the room id can only have come from ttsign.
    assert run.pairs() == node_events(default_scenario)


# --- keys: over the limit, revoked ------------------------------------------------------------------------


def keys(store: Path, *args: str) -> dict[str, Any]:
    """``ttsign keys ...`` on the server's store; returns the JSON document it prints."""
    return ttsign_keys({"TTSIGN_STORE_PATH": str(store)}, *args)


def retry_seconds(message: str) -> int:
    match = re.search(r"[Tt]ry again in (\d+) seconds", message)
    assert match, message
    return int(match.group(1))


# The 429 each client raises for a key over its limit (the first connect of the minute succeeds).
RATE_LIMITED = [
    pytest.param("py-7.0.1", "SignatureRateLimitError", id="py-7.0.1"),
    pytest.param("py-6.6.6", "SignatureRateLimitError", id="py-6.6.6"),
    pytest.param("py-5.0.8", "SignatureRateLimitReached", id="py-5.0.8"),
    pytest.param("node-2.5.0", "SignatureRateLimitError", id="node-2.5.0"),
    # 2.3.0-beta1 reads the headers of response.data instead of the response: no reply can avoid this.
    pytest.param("node-2.3.0-beta1", "TypeError", id="node-2.3.0-beta1"),
    pytest.param("node-1.2.3", "SignatureError", id="node-1.2.3"),
]


@pytest.mark.parametrize(("client", "error"), RATE_LIMITED)
def test_key_over_its_limit_gets_each_clients_rate_limit_error(client, error, emu, server, store) -> None:
    need(client)
    key = keys(store, "create", "--name", f"limit-{client}", "--per-minute", "1")["api_key"]
    first = run_client(client, emu.url, server, tls_url=emu.tls_url, api_key=key, timeout=30)
    assert_ok(first)
    second = run_client(client, emu.url, server, tls_url=emu.tls_url, api_key=key, timeout=20)
    assert (second.returncode, second.outcome["error"]) == (3, error)
    message = second.outcome["message"]
    assert key not in message
    if client.startswith("py-"):
        assert 0 < retry_seconds(message) <= 60, "the retry time is the wait until the minute window resets"
    if error == "SignatureRateLimitError":
        assert "(minute)" in message
    if client == "node-1.2.3":
        assert "status code 429" in message


REVOKED = [
    pytest.param("py-7.0.1", "SignAPIError", id="py-7.0.1"),
    pytest.param("py-6.6.6", "SignAPIError", id="py-6.6.6"),
    # 4.x/5.x check no status but 429 and parse any body as protobuf.
    pytest.param("py-5.0.8", "DecodeError", id="py-5.0.8"),
    pytest.param("node-2.5.0", "SignAPIError", id="node-2.5.0"),
    pytest.param("node-2.3.0-beta1", "SignAPIError", id="node-2.3.0-beta1"),
    pytest.param("node-1.2.3", "SignatureError", id="node-1.2.3"),
]


@pytest.mark.parametrize(("client", "error"), REVOKED)
def test_revoked_key_gets_each_clients_auth_error(client, error, emu, server, store) -> None:
    need(client)
    created = keys(store, "create", "--name", f"revoked-{client}")
    keys(store, "revoke", created["key_id"])
    time.sleep(1.2)  # servers refuse a revoked key within a second
    run = run_client(client, emu.url, server, tls_url=emu.tls_url, api_key=created["api_key"], timeout=20)
    assert (run.returncode, run.outcome["error"]) == (3, error)
    assert created["api_key"] not in run.outcome["message"]
    if error == "SignAPIError":
        assert "401" in run.outcome["message"] and "revoked" in run.outcome["message"]
    if client == "node-1.2.3":
        assert "status code 401" in run.outcome["message"]
    assert not [e for e in emu.log() if e["kind"].startswith("ws_")]


def test_every_matrix_client_is_covered() -> None:
    assert {p.values[0] for p in RATE_LIMITED} == {p.values[0] for p in REVOKED} == set(CLIENTS_ALL)
