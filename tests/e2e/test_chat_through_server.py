"""Chat through ``ttsign serve`` to the strict emulator, sent by the real clients' own chat calls.

TikTokLive 7.0.1's ``send_room_chat`` and tiktok-live-connector 2.5.0's ``sendMessage``, unmodified, post a
message with the viewer's session to ttsign (chat enabled on the server and for the key); ttsign signs
``POST /webcast/room/chat/`` and sends it with that session; the emulator verifies the signature, the
``ttwid`` and the ``sessionid`` and logs the chat. Then the canary: the session id sent appears in no server
log line, no answer, no metric and nowhere in the emulator's log.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.harness import (
    E2E,
    NODE_DIR,
    PYTHON,
    ROOT,
    EmulatorHandle,
    Proc,
    node_missing,
    serve_argv,
    start_emulator,
    stop_cleanly,
    ttsign_keys,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

DEFAULT_SCENARIO = ROOT / "src" / "ttsign" / "emulator" / "scenarios" / "default.yaml"
PYTHON_CHAT = E2E / "clients" / "python_chat.py"
NODE_CHAT = NODE_DIR / "send_chat.mjs"
NODE_23_DIR = E2E / "node-2.3"  # tiktok-live-connector 2.3.0-beta1: POST /webcast/chat + x-cookie-header
# A session id no code could produce by accident: if it shows up anywhere, it leaked from a request.
CANARY = "c4n4ry" + secrets.token_hex(13)
TARGET_IDC = "useast5"


@dataclass
class Server:
    proc: Proc
    url: str
    chat_key: str
    plain_key: str
    answers: list[str]  # every client output of the module, for the canary check

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_SCENARIO.read_text())
    data["sessions"] = [CANARY]
    return data


@pytest.fixture(scope="module")
def room(scenario: dict[str, Any]) -> str:
    return str(scenario["streamer"]["room_id"])


@pytest.fixture(scope="module")
def emu(scenario: dict[str, Any]) -> Iterator[EmulatorHandle]:
    handle = start_emulator(scenario, strict=True, tls=False)
    yield handle
    assert CANARY not in stop_cleanly(handle.proc)


def _create_key(env: dict[str, str], *flags: str) -> str:
    return str(ttsign_keys(env, "create", "--name", "chat-e2e", *flags)["api_key"])


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    state = tmp_path_factory.mktemp("chat-server")
    env = {
        "TTSIGN_STORE_PATH": str(state / "ttsign.sqlite3"),
        "TTSIGN_CHAT_ENABLED": "true",
        "TTSIGN_LOG_LEVEL": "DEBUG",  # every line the server can write is searched for the canary
        "TTSIGN_CONTACT_EMAIL": "e2e-operator@example.org",
    }
    chat_key, plain_key = _create_key(env, "--chat"), _create_key(env)
    argv = serve_argv(emu.url)
    proc = Proc(argv, name="server", env=env).start()
    ready = proc.wait_ready()
    server = Server(proc, ready["url"], chat_key, plain_key, [])
    yield server
    # When the module's tests have all run, in whatever order: no chat's session in any answer or metric.
    assert CANARY not in "\n".join(server.answers), "the session id reached a client's answer"
    assert CANARY not in httpx.get(f"{server.url}/metrics", timeout=10).text, "the session id reached /metrics"
    code = proc.stop()
    stderr = proc.stderr_text()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert CANARY not in stderr, "the session id reached the server log"


def _chat(driver: str, server: Server, room: str, content: str, *, key: str, session: str = CANARY) -> dict[str, Any]:
    """Run one real client's chat call; returns its outcome line (and keeps its output for the canary check).

    driver: python (TikTokLive 7.0.1), node (tiktok-live-connector 2.5.0) or node-2.3 (2.3.0-beta1)."""
    argv = ["--sign", server.url, "--room-id", room, "--content", content, "--api-key", key]
    argv += ["--session-id", session, "--tt-target-idc", TARGET_IDC, "--timeout", "20"]
    if driver == "python":
        command, cwd = [PYTHON, str(PYTHON_CHAT), *argv], ROOT
    elif driver == "node-2.3":
        command, cwd = ["node", str(NODE_CHAT), *argv, "--package-dir", str(NODE_23_DIR)], NODE_DIR
    else:
        command, cwd = ["node", str(NODE_CHAT), *argv], NODE_DIR
    env = {**os.environ, "WHITELIST_AUTHENTICATED_SESSION_ID_HOST": server.host}
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    server.answers.append(done.stdout + done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{driver} printed no outcome (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    outcome: dict[str, Any] = json.loads(lines[-1])
    return outcome


def _node_chats_on(server: Server, route: str) -> float:
    """How many Node chat requests the server answered 200 on `route` (from its /metrics)."""
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    wanted = f'route="{route}"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("ttsign_http_requests_total{") and wanted in line and 'dialect="node"' in line
    )


def _chats(emu: EmulatorHandle) -> list[dict[str, Any]]:
    return emu.log("chat")


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle) -> None:
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


def skip_without_node() -> None:
    reason = node_missing()
    if reason:
        pytest.skip(reason)


# --- the real clients send chat ---------------------------------------------------------------------------


def test_tiktoklive_send_room_chat_reaches_the_room(emu: EmulatorHandle, server: Server, room: str) -> None:
    outcome = _chat("python", server, room, "hello from TikTokLive", key=server.chat_key)
    assert outcome["ok"] is True, outcome
    result = outcome["result"]
    assert result["code"] == 200 and result["data"]["content"] == "hello from TikTokLive"
    chats = _chats(emu)
    assert [(c["room_id"], c["content"]) for c in chats] == [(room, "hello from TikTokLive")]
    assert chats[0]["msg_id"] == result["data"]["msg_id"] and chats[0]["target_idc_sent"] is True
    # Signed and verified like im/fetch: the strict checks ran on the chat POST and all passed.
    checks = [e for e in emu.log("strict_check") if e["path"] == "/webcast/room/chat/"]
    assert len(checks) == 1 and checks[0]["ok"] is True and len(checks[0]["checks"]) > 3


def test_connector_send_message_reaches_the_room(emu: EmulatorHandle, server: Server, room: str) -> None:
    skip_without_node()
    outcome = _chat("node", server, room, "hello from the connector", key=server.chat_key)
    assert outcome["ok"] is True, outcome
    assert outcome["result"]["code"] == 200 and outcome["result"]["data"]["content"] == "hello from the connector"
    assert [(c["room_id"], c["content"]) for c in _chats(emu)] == [(room, "hello from the connector")]


def test_connector_2_3_send_message_reaches_the_room(emu: EmulatorHandle, server: Server, room: str) -> None:
    skip_without_node()
    if not (NODE_23_DIR / "node_modules" / "tiktok-live-connector" / "package.json").exists():
        pytest.skip("tiktok-live-connector 2.3.0-beta1 not installed (make e2e-deps)")
    before = _node_chats_on(server, "/webcast/chat")
    outcome = _chat("node-2.3", server, room, "hello from 2.3", key=server.chat_key)
    assert outcome["ok"] is True, outcome
    assert _node_chats_on(server, "/webcast/chat") == before + 1  # 2.3's route, not 2.4's rooms/{id}/chat
    assert outcome["result"]["code"] == 200 and outcome["result"]["data"]["content"] == "hello from 2.3"
    assert [(c["room_id"], c["content"]) for c in _chats(emu)] == [(room, "hello from 2.3")]
    posted = [e for e in emu.log("http") if e["path"] == "/webcast/room/chat/"]
    assert len(posted) == 1


# --- refusals, each in the client's own form --------------------------------------------------------------


def test_a_key_without_chat_gets_not_enabled(emu: EmulatorHandle, server: Server, room: str) -> None:
    skip_without_node()  # both client families or neither: never half the claim
    python = _chat("python", server, room, "not allowed", key=server.plain_key)
    assert python["ok"] is True and python["result"]["code"] == 403, python
    assert "not enabled" in python["result"]["message"]
    node = _chat("node", server, room, "not allowed", key=server.plain_key)
    assert node["ok"] is False and "PremiumFeatureError" in (node["error"], node.get("cause")), node
    assert _chats(emu) == [] and not [e for e in emu.log("http") if e["path"] == "/webcast/room/chat/"]


def test_a_session_tiktok_rejects_is_a_401(emu: EmulatorHandle, server: Server, room: str) -> None:
    skip_without_node()  # both client families or neither: never half the claim
    python = _chat("python", server, room, "logged out", key=server.chat_key, session="0" * 32)
    assert python["ok"] is True and python["result"]["code"] == 401, python
    node = _chat("node", server, room, "logged out", key=server.chat_key, session="0" * 32)
    assert node["ok"] is False and "PremiumFeatureError" in (node["error"], node.get("cause")), node
    rejected = emu.log("chat_reject")
    assert rejected and all(e["reason"] == "login_required" and e["session_sent"] for e in rejected)
    assert _chats(emu) == []


# --- the canary ----------------------------------------------------------------------------------------------


def test_the_session_id_is_never_logged_answered_or_counted(emu: EmulatorHandle, server: Server, room: str) -> None:
    """A chat carrying CANARY reaches TikTok, and CANARY is nowhere else. The fixtures check every other chat
    of the module the same way when it ends (answers, metrics, both logs), so no test needs to run last."""
    outcome = _chat("python", server, room, "canary check", key=server.chat_key)
    assert outcome["ok"] is True and outcome["result"]["code"] == 200
    # Positive control: the emulator accepted the canary, so it did travel to TikTok on the chat request...
    assert [c["content"] for c in _chats(emu)] == ["canary check"]
    # ...and yet it is in no answer, no metric, no server log line and no emulator log entry.
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert "room_chat" in metrics or "/webcast/chat" in metrics  # the chat was counted, without its session
    emulator_log = httpx.get(f"{emu.url}/__emu/log", timeout=10).text
    assert "/webcast/room/chat/" in emulator_log
    places = {
        "answers": "\n".join(server.answers),
        "metrics": metrics,
        "emulator log": emulator_log,
        "emulator stderr": emu.proc.stderr_text(),
        "server stderr": server.proc.stderr_text(),
    }
    assert "chat to room" in places["server stderr"]
    leaked = [where for where, text in places.items() if CANARY in text]
    assert leaked == [], f"the session id leaked into: {leaked}"
