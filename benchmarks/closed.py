"""Closed-loop load in steady state: N keep-alive connections, each sending its next request as soon as its
answer is in, with latency recorded only once the loop is running. A fresh closed loop starts with every
connection sending at the same instant. Through a chain of two servers that first wave waits for the whole
chain to fill (every request's first leg before any second leg can start), so it is slower than anything after
it, and at concurrency 50 it alone is 5% of 1,000 samples: the p99 of a fresh run measures the start, not the
server. Here the loop sends `warmup` requests first and records the next `total` requests sent, on the same,
still busy connections, as wrk would if it could skip its ramp. What is recorded is chosen by when a request
was sent, not by when its answer came: counting answers recorded the first wave's own stragglers (sent at the
start, answered after the warm-up count), 100-300 ms each through ttsign. `concurrency` more requests follow
unrecorded, and the run ends only when every answer is in, so a run leaves no work in flight for the next one.
The client is an asyncio protocol (run it on uvloop) over pre-built request bytes (a few µs a request), so it
takes little of the CPU the servers share; answers must be 200 with a body.
Usage as a module: `await closed_loop(url, requests, concurrency=50, warmup=500, total=1000)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

from paced import percentile

TIMEOUT_S = 10.0


@dataclass
class ClosedResult:
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


class _Loop:
    """The shared count: which request goes next, which ones are recorded, how many answers are to come.

    Requests are numbered as they are sent. Numbers [warmup, warmup + total) are recorded; `cooldown` more
    follow unrecorded, so the last recorded ones still meet a full loop; the run ends when every request
    sent has its answer, so nothing is left in flight for a next run to wait behind.
    """

    def __init__(self, requests: Sequence[bytes], warmup: int, total: int, cooldown: int) -> None:
        self.requests, self.warmup, self.total = requests, warmup, total
        self.last = warmup + total + cooldown
        self.sent = 0
        self.answered = 0
        self.result = ClosedResult()
        self.finished = asyncio.get_running_loop().create_future()

    def next_request(self) -> tuple[int, bytes] | None:
        if self.sent >= self.last:
            return None
        number = self.sent
        self.sent += 1
        return number, self.requests[number % len(self.requests)]

    def answered_one(self, number: int, status: int, body: bytes, latency_ms: float) -> None:
        self.answered += 1
        if self.warmup <= number < self.warmup + self.total:
            self.result.latencies_ms.append(latency_ms)
            if status != 200 or not body:
                self.result.failures.append(f"{status} {body[:200]!r}")
        if self.answered >= self.last and not self.finished.done():
            self.finished.set_result(None)


class _Connection(asyncio.Protocol):
    def __init__(self, loop: _Loop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._sent_at = 0.0
        self._number = -1  # the request in flight on this connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def send_next(self) -> None:
        numbered = self._loop.next_request()
        if numbered is not None and self._transport is not None:
            self._number, request = numbered
            self._sent_at = time.perf_counter()
            self._transport.write(request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (answer := self._take_answer()) is not None:
            status, body = answer
            self._loop.answered_one(self._number, status, body, (time.perf_counter() - self._sent_at) * 1000)
            self.send_next()

    def _take_answer(self) -> tuple[int, bytes] | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self._buffer[:end].lower()
        length = 0
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            length = int(head[at + 17 :].split(b"\r\n", 1)[0])
        if len(self._buffer) < end + 4 + length:
            return None
        body = self._buffer[end + 4 : end + 4 + length]
        status = int(head[9:12])
        self._buffer = self._buffer[end + 4 + length :]
        return status, body

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._loop.finished.done():
            self._loop.finished.set_exception(ConnectionError(f"connection closed: {exc}"))


async def closed_loop(
    base: str, requests: Sequence[bytes], *, concurrency: int, warmup: int, total: int
) -> ClosedResult:
    """The latencies of `total` requests sent after `warmup` unrecorded ones and followed by `concurrency`
    more, over `concurrency` busy connections."""
    parts = urlsplit(base)
    state = _Loop(requests, warmup, total, cooldown=concurrency)
    loop = asyncio.get_running_loop()
    connections = [
        (await loop.create_connection(lambda: _Connection(state), parts.hostname, parts.port))
        for _ in range(concurrency)
    ]
    for _, protocol in connections:
        protocol.send_next()
    try:
        await asyncio.wait_for(state.finished, TIMEOUT_S + state.last / 50)
    finally:
        for transport, _ in connections:
            transport.close()
    return state.result
