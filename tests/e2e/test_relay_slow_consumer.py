"""A slow consumer, for real: one consumer of a room stops reading; when its bounded queue fills (here
TTSIGN_RELAY_QUEUE_SIZE=4 frames, once the kernel's socket buffers are full too) it is closed with 4008,
while a consumer that reads (the real Euler SDK) receives every event and the room's socket stays open."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.e2e.harness import ROOT, EmulatorHandle, Proc, serve_argv, start_emulator, stop_cleanly
from tests.e2e.relay_consumers import EulerConsumer, euler_sdk_missing
from tests.e2e.session_log import wait_for_log

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SCENARIO: dict[str, Any] = yaml.safe_load((ROOT / "src/ttsign/emulator/scenarios/default.yaml").read_text())
# About 18 MB in all, random (permessage-deflate would shrink repeated text to nothing): more than loopback's
# socket buffers hold.
FRAMES, PER_FRAME = 300, 40


def noise() -> str:
    return secrets.token_urlsafe(1100)


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator({**SCENARIO, "timeline": []}, strict=True, tls=False)
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture
def server(emu: EmulatorHandle, tmp_path: Any) -> Iterator[str]:
    env = {"TTSIGN_STORE_PATH": str(tmp_path / "ttsign.sqlite3"), "TTSIGN_RELAY_QUEUE_SIZE": "4"}
    proc = Proc(serve_argv(emu.url), name="server", env=env).start()
    yield str(proc.wait_ready()["url"])
    assert "Traceback" not in stop_cleanly(proc)


def test_a_consumer_that_stops_reading_is_closed_4008_and_the_others_get_everything(
    emu: EmulatorHandle, server: str
) -> None:
    reason = euler_sdk_missing()
    if reason:
        pytest.skip(reason)
    reader = EulerConsumer(server, timeout_s=120)
    try:
        reader.wait_for(lambda line: line.get("type") == "roomInfo")
        url = server.replace("http://", "ws://") + "/ws?uniqueId=emu_streamer"
        # max_queue=1: the client library stops reading the socket once one message waits unread.
        with connect(url, max_queue=1, open_timeout=10) as stalled:
            stalled.recv(timeout=10)  # workerInfo; from here on it reads nothing
            wait_for_log(emu, lambda log: any(e["kind"] == "timeline_start" for e in log))
            for n in range(FRAMES):
                batch = [
                    {"type": "chat", "user": "u1", "content": secrets.token_urlsafe(1100)} for _ in range(PER_FRAME)
                ]
                emu.push([{"id": 100_000 + n * PER_FRAME, "batch": batch}])
            emu.push([{"id": 99, "type": "control", "action": "stream_ended"}])
            reader.close_line(timeout=120)
            deadline = time.monotonic() + 30
            code = None
            while code is None and time.monotonic() < deadline:  # drain what was buffered, up to the close
                try:
                    stalled.recv(timeout=5)
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd else None
                except TimeoutError:
                    break
        assert code == 4008
        chats = [m for m in reader.messages() if m["type"] == "WebcastChatMessage"]
        assert len(chats) == FRAMES * PER_FRAME
        assert reader.messages()[-1]["type"] == "WebcastControlMessage"
        assert reader.lines[-1]["code"] == 4005
    finally:
        reader.stop()
    assert len(emu.log("ws_open")) == 1
    httpx.get(f"{server}/healthz", timeout=5).raise_for_status()
