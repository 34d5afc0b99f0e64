"""Issue 14 item 4, end to end: unmodified TikTokLive 7.0.1 and tiktok-live-connector 2.5.0 receive the
scenario through ttsign's relay. Their sign server is `<ttsign>/relay`: the connect answers with a fetch
result whose push_server is ttsign's own push socket, which speaks TikTok's protocol to them (enter-room
answer, heartbeats and acks taken, TikTok's frames passed on) while ttsign alone holds the TikTok socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.expected import node_events, python_events
from tests.e2e.harness import (
    ROOT,
    EmulatorHandle,
    Proc,
    node_missing,
    run_node_client,
    run_python_client,
    serve_argv,
    start_emulator,
    stop_cleanly,
)
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SCENARIO: dict[str, Any] = yaml.safe_load((ROOT / "src/ttsign/emulator/scenarios/default.yaml").read_text())
ROOM = SCENARIO["streamer"]["room_id"]
# The relay's first fetch result carries no messages (the room's initial ones went to the relay's socket).
WITHOUT_INITIAL = {**SCENARIO, "initial": []}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator(SCENARIO, strict=True, tls=True)
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "TTSIGN_STORE_PATH": str(tmp_path_factory.mktemp("relay-mode") / "ttsign.sqlite3"),
        "TTSIGN_RELAY_GRACE_S": "0.5",
        "TTSIGN_BREAKER_FAILURE_THRESHOLD": "1000",
    }
    proc = Proc(serve_argv(emu.url), name="server", env=env).start()
    yield str(proc.wait_ready()["url"])
    assert "Traceback" not in stop_cleanly(proc)


@pytest.fixture(scope="module")
def relay_first(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose connect strategies start with `relay`: the clients' ordinary sign URL gets relay mode."""
    env = {
        "TTSIGN_STORE_PATH": str(tmp_path_factory.mktemp("relay-strategy") / "ttsign.sqlite3"),
        "TTSIGN_CONNECT_STRATEGIES": '["relay", "direct", "fetch"]',
        "TTSIGN_RELAY_GRACE_S": "0.5",
        "TTSIGN_BREAKER_FAILURE_THRESHOLD": "1000",
    }
    proc = Proc(serve_argv(emu.url), name="relay-first", env=env).start()
    yield str(proc.wait_ready()["url"])
    assert "Traceback" not in stop_cleanly(proc)


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle) -> None:
    httpx.post(f"{emu.url}/__emu/scenario", json=SCENARIO, timeout=10).raise_for_status()
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


def client_sockets(emu: EmulatorHandle) -> int:
    """Sockets the emulator (TikTok) saw opened: with the relay, only ttsign's."""
    return len(emu.log("ws_open"))


def test_the_relay_connect_points_the_client_at_ttsigns_own_socket(server: str) -> None:
    answer = httpx.get(f"{server}/relay/webcast/fetch", params={"room_id": ROOM, "client": "ttlive-python"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-set-tt-cookie"].startswith("ttwid=") and answer.headers["x-room-id"] == ROOM
    result = ProtoMessageFetchResult.FromString(answer.content)
    assert result.push_server == server.replace("http://", "ws://") + "/webcast/relay/push/"
    assert result.is_first and result.cursor and set(result.route_params) == {"relay_room", "relay_ticket"}


def test_tiktoklive_receives_the_scenario_through_the_relay(emu: EmulatorHandle, server: str) -> None:
    run = run_python_client(emu.url, f"{server}/relay", timeout=30)
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])
    assert run.pairs() == python_events(WITHOUT_INITIAL)
    assert client_sockets(emu) == 1  # ttsign's; the client's socket went to ttsign


def test_the_node_connector_receives_the_scenario_through_the_relay(emu: EmulatorHandle, server: str) -> None:
    reason = node_missing()
    if reason:
        pytest.skip(reason)
    run = run_node_client(emu.url, f"{server}/relay", tls_url=emu.tls_url, timeout=30, extra=["--ping-ms", "200"])
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])
    assert run.pairs() == node_events(WITHOUT_INITIAL)
    assert client_sockets(emu) == 1


def test_a_room_that_is_not_live_is_refused_at_connect(emu: EmulatorHandle, server: str) -> None:
    # A room the emulator does not have (the connect service remembers a live room for a while, so the
    # scenario's own room, live a moment ago in this module, would still pass).
    answer = httpx.get(f"{server}/relay/webcast/fetch", params={"room_id": "7390000000000000999"})
    assert answer.status_code == 404 and answer.json()["reason"] == "room_not_live", answer.text
    assert answer.json()["message"].startswith("Streamer is not live")
    assert not emu.log("ws_open")  # no socket was opened for it


@pytest.mark.parametrize("ticket", ["", "123.abc", "9999999999999.0123456789abcdef0123456789abcdef"])
def test_the_push_socket_refuses_a_missing_or_forged_ticket(server: str, ticket: str) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = server.replace("http://", "ws://") + f"/webcast/relay/push/?relay_room=room:{ROOM}&relay_ticket={ticket}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10).close()
    assert refused.value.response.status_code == 403
    assert refused.value.response.headers["Handshake-Msg"] == "invalid or expired relay ticket"


def test_with_the_relay_strategy_first_the_ordinary_sign_url_gets_relay_mode(
    emu: EmulatorHandle, relay_first: str
) -> None:
    answer = httpx.get(f"{relay_first}/webcast/fetch", params={"room_id": ROOM, "client": "ttlive-python"})
    assert answer.status_code == 200, answer.text
    result = ProtoMessageFetchResult.FromString(answer.content)
    assert result.push_server == relay_first.replace("http://", "ws://") + "/webcast/relay/push/"
    run = run_python_client(emu.url, relay_first, timeout=30)
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])
    assert run.pairs() == python_events(WITHOUT_INITIAL)
    reason = node_missing()
    if reason is None:
        node = run_node_client(emu.url, relay_first, tls_url=emu.tls_url, timeout=30, extra=["--ping-ms", "200"])
        assert node.outcome.get("ok") is True, (node.outcome, node.stderr[-3000:])
        assert node.pairs() == node_events(WITHOUT_INITIAL)
