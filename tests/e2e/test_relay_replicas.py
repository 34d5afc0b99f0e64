"""Issue 14 item 1 with scale-out, end to end: two `ttsign serve` replicas sharing one Redis, one
`ttsign emulate` room, and a consumer on each replica driven by the real Euler WebSocket SDK.

Proven: the two replicas open one TikTok socket between them and both consumers receive the scenario in
order; when the replica that owns the room is killed (SIGKILL: no goodbye, its lease simply runs out), the
other replica takes the room over within seconds, opens the socket itself, and its consumer, still
connected, receives what follows without a message twice.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.harness import ROOT, EmulatorHandle, Proc, serve_argv, start_emulator, stop_cleanly
from tests.e2e.relay_consumers import EulerConsumer, chat_and_gifts, euler_sdk_missing, expected_chat_and_gifts
from tests.e2e.session_log import wait_for_log
from tests.redis_db import delete_prefix, new_prefix, require_redis

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

REDIS_URL = os.environ.get("TTSIGN_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/12")
SCENARIO: dict[str, Any] = yaml.safe_load((ROOT / "src/ttsign/emulator/scenarios/default.yaml").read_text())
BEFORE = [
    {"id": 11, "type": "chat", "user": "u1", "content": "before the failover"},
    {"id": 12, "type": "gift", "user": "u2", "gift": {"id": 5655, "name": "Rose", "diamond_count": 1, "type": 1},
     "repeat_count": 3, "repeat_end": True},
]  # fmt: skip
AFTER = [
    {"id": 21, "type": "chat", "user": "u2", "content": "after the failover"},
    {"id": 99, "type": "control", "action": "stream_ended"},
]
LEASE_S = 1.0


@pytest.fixture(scope="module", autouse=True)
def prerequisites() -> None:
    reason = euler_sdk_missing()
    if reason:
        pytest.skip(reason)
    require_redis(REDIS_URL)


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator({**SCENARIO, "timeline": []}, strict=True, tls=False)  # step mode
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture
def replicas(emu: EmulatorHandle, tmp_path: Path) -> Iterator[list[Proc]]:
    prefix = new_prefix()
    env = {
        "TTSIGN_REDIS_URL": REDIS_URL,
        "TTSIGN_REDIS_KEY_PREFIX": prefix,
        "TTSIGN_JWT_SECRET": "e2e-relay-replicas-secret-0123456789abcdef",
        "TTSIGN_STORE_PATH": str(tmp_path / "unused.sqlite3"),
        "TTSIGN_RELAY_LEASE_S": str(LEASE_S),
        "TTSIGN_RELAY_RECONNECT_BACKOFF_S": "0.2",
        "TTSIGN_RELAY_GRACE_S": "0.5",
    }
    procs = [Proc(serve_argv(emu.url), name=f"replica-{n}", env=env).start() for n in "ab"]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()
        delete_prefix(prefix, REDIS_URL)


@pytest.fixture
def consumers() -> Iterator[list[EulerConsumer]]:
    started: list[EulerConsumer] = []
    yield started
    for consumer in started:
        consumer.stop()


def test_two_replicas_share_one_socket_and_survive_the_owners_death(
    emu: EmulatorHandle, replicas: list[Proc], consumers: list[EulerConsumer]
) -> None:
    owner, other = replicas
    on_owner = EulerConsumer(owner.ready["url"], timeout_s=60)
    consumers.append(on_owner)
    on_owner.wait_for(lambda line: line.get("type") == "roomInfo")  # the owner opened the room first
    on_other = EulerConsumer(other.ready["url"], timeout_s=60)
    consumers.append(on_other)
    on_other.wait_for(lambda line: line.get("type") == "roomInfo")
    wait_for_log(emu, lambda log: any(e["kind"] == "timeline_start" for e in log))

    emu.push(BEFORE)
    for consumer in (on_owner, on_other):
        consumer.wait_for(lambda line: line.get("type") == "WebcastGiftMessage")
        assert chat_and_gifts(consumer.messages()) == expected_chat_and_gifts(BEFORE)
    assert len(emu.log("ws_open")) == 1  # one TikTok socket for the two replicas

    os.kill(owner.pid, signal.SIGKILL)  # no goodbye: the lease must run out
    assert owner.process is not None
    owner.process.wait(10)
    on_owner.close_line()  # its own consumer lost its server, as it must
    wait_for_log(emu, lambda log: len([e for e in log if e["kind"] == "ws_open"]) == 2, timeout=LEASE_S * 10)
    wait_for_log(emu, lambda log: len([e for e in log if e["kind"] == "timeline_start"]) == 2)

    # The new socket gets what TikTok sends from now on; the consumer on the surviving replica never left.
    emu.push(AFTER)
    close = on_other.close_line()
    assert close["code"] == 4005
    assert chat_and_gifts(on_other.messages()) == expected_chat_and_gifts(BEFORE + AFTER)
    assert [line["type"] for line in on_other.messages()].count("roomInfo") == 1  # never reconnected
    httpx.get(f"{other.ready['url']}/healthz", timeout=5).raise_for_status()
