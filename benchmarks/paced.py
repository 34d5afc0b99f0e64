"""Open-loop load: requests sent on a fixed schedule over N keep-alive connections, whatever the answers do.

A closed loop (wrk, or N clients each waiting for its answer before the next request) measures a server at
saturation: latency is then N / throughput by Little's law, whatever the server does. Clients of a sign
server do not behave that way: each connects now and then. Here request i is due at start + i / rate on
connection i mod N, and its latency runs from when it was due, not from when it could be sent (a late
answer delays the next request on that connection: counting from the due time keeps that wait in the
figures instead of hiding it, as wrk2 does).
Usage as a module: `await paced_load(url, requests, connections=200, rate=600, seconds=60)`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RequestBytes = Callable[[int], bytes]  # the i-th request, as bytes on the wire
TIMEOUT_S = 5.0


@dataclass
class PacedResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != "200")

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile by nearest rank (0.0 for no values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


def get_request(host: str, target: str, headers: dict[str, str]) -> bytes:
    """A minimal keep-alive HTTP/1.1 GET, as bytes on the wire."""
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one answer (Content-Length framing, as ttsign and the emulator answer)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(
    base: str, index: int, connections: int, rate: float, start: float, end: float, make: RequestBytes, out: PacedResult
) -> None:
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        number = index
        while True:
            due = start + number / rate
            if due >= end:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(make(number))
            try:
                status, _ = await asyncio.wait_for(read_response(reader), TIMEOUT_S)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
                out.statuses[type(exc).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            else:
                out.statuses[str(status)] += 1
            out.latencies_ms.append((time.perf_counter() - due) * 1000)
            number += connections
    finally:
        writer.close()


async def paced_load(base: str, make: RequestBytes, *, connections: int, rate: float, seconds: float) -> PacedResult:
    """`rate` requests per second in all, spread over `connections`, for `seconds`."""
    result = PacedResult()
    start = time.perf_counter() + 0.5  # every connection open before the first request is due
    end = start + seconds
    await asyncio.gather(
        *(_connection(base, i, connections, rate, start, end, make, result) for i in range(connections))
    )
    result.elapsed_s = time.perf_counter() - start
    return result
