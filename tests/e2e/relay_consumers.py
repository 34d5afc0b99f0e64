"""Helpers for the relay's end-to-end tests: a `ttsign serve` against `ttsign emulate`, and consumers driven by
the real Euler WebSocket SDK (tests/e2e/node-euler-ws/client.mjs), read line by line while they run."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.harness import E2E, ROOT

EULER_WS_DIR = E2E / "node-euler-ws"
EULER_WS_CLIENT = EULER_WS_DIR / "client.mjs"

Line = dict[str, Any]


def euler_sdk_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (EULER_WS_DIR / "node_modules" / "@eulerstream" / "euler-websocket-sdk" / "package.json").exists():
        return "@eulerstream/euler-websocket-sdk not installed: run `npm ci` in tests/e2e/node-euler-ws"
    return None


class EulerConsumer:
    """One SDK consumer process; its JSON lines are collected by a thread as they come."""

    def __init__(
        self,
        server_url: str,
        *,
        unique_id: str = "emu_streamer",
        features: dict[str, object] | None = None,
        api_key: str | None = None,
        jwt_key: str | None = None,
        timeout_s: float = 30,
    ) -> None:
        argv = ["node", str(EULER_WS_CLIENT), "--url", server_url.replace("http://", "ws://", 1)]
        argv += ["--unique-id", unique_id, "--features", json.dumps(features or {}), "--timeout", str(timeout_s)]
        if api_key:
            argv += ["--api-key", api_key]
        if jwt_key:
            argv += ["--jwt-key", jwt_key]
        self.lines: list[Line] = []
        self._new: queue.Queue[Line | None] = queue.Queue()
        self.process = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = json.loads(raw)
            self.lines.append(line)
            self._new.put(line)
        self._new.put(None)

    def wait_for(self, predicate: Callable[[Line], bool], timeout: float = 20.0) -> Line:
        """The first line (from now on) that satisfies predicate; fails on a timeout or the end of output."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._new.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no matching line within {timeout}s; got {self.lines}") from None
            if line is None:
                raise AssertionError(f"consumer ended without a matching line: {self.lines}\n{self.stderr()}")
            if predicate(line):
                return line

    def close_line(self, timeout: float = 30.0) -> Line:
        return self.wait_for(lambda line: line["event"] in ("close", "timeout"), timeout)

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def messages(self, event: str = "message") -> list[Line]:
        return [line for line in self.lines if line["event"] == event]


def chat_and_gifts(lines: list[Line]) -> list[tuple[str, object]]:
    """The scenario's chat lines and gifts as a consumer saw them, in order: ("chat", text) / ("gift", (name, n))."""
    seen: list[tuple[str, object]] = []
    for line in lines:
        data = line.get("data") or {}
        if line["type"] == "WebcastChatMessage":
            seen.append(("chat", data["comment"]))
        elif line["type"] == "WebcastGiftMessage":
            seen.append(("gift", (data["giftDetails"]["giftName"], data["repeatCount"])))
    return seen


def expected_chat_and_gifts(timeline: list[dict[str, Any]]) -> list[tuple[str, object]]:
    expected: list[tuple[str, object]] = []
    for step in timeline:
        for event in step.get("batch", [step]):
            if event.get("type") == "chat":
                expected.append(("chat", event["content"]))
            elif event.get("type") == "gift":
                expected.append(("gift", (event["gift"]["name"], event.get("repeat_count", 1))))
    return expected


__all__ = ["Path"]
