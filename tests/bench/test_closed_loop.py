"""benchmarks/closed.py: the steady-state closed loop records exactly the `total` requests sent after
`warmup`, and ends with nothing in flight."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from closed import closed_loop


class _Server:
    """A tiny keep-alive HTTP server: answers each request line; every `fail_every`th with a 503."""

    def __init__(self, fail_every: int = 0, split_answers: bool = False, first_delay_s: float = 0.0) -> None:
        self.requests = 0
        self.connections = 0
        self.fail_every = fail_every
        self.split_answers = split_answers
        self.first_delay_s = first_delay_s  # the very first request waits this long before its answer

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                if self.requests == 1:
                    await asyncio.sleep(self.first_delay_s)
                failing = self.fail_every and self.requests % self.fail_every == 0
                body = b"" if failing else b"payload-%d" % self.requests
                status = b"503 Service Unavailable" if failing else b"200 OK"
                answer = b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)
                if self.split_answers:  # the head and the body in separate segments, as uvicorn writes them
                    writer.write(answer[: len(answer) - len(body)])
                    await writer.drain()
                    writer.write(body)
                else:
                    writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _run(server: _Server, *, concurrency: int, warmup: int, total: int) -> tuple[list[float], list[str]]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        result = await closed_loop(
            f"http://127.0.0.1:{port}", [request], concurrency=concurrency, warmup=warmup, total=total
        )
    finally:
        listener.close()
    return result.latencies_ms, result.failures


@pytest.mark.parametrize("split_answers", [False, True])
async def test_records_exactly_total_answers_after_the_warmup(split_answers: bool) -> None:
    server = _Server(split_answers=split_answers)
    latencies, failures = await _run(server, concurrency=5, warmup=20, total=100)
    assert len(latencies) == 100 and all(ms >= 0 for ms in latencies)
    assert failures == []
    assert server.requests == 125  # warm-up and cool-down (one per connection) are sent, only not recorded
    assert server.connections == 5


async def test_non_200_and_empty_answers_are_failures() -> None:
    server = _Server(fail_every=10)
    latencies, failures = await _run(server, concurrency=1, warmup=0, total=50)
    assert len(latencies) == 50
    # Only recorded requests count: requests 1-50 of the server's count, of which 10, 20, ... 50 fail.
    assert len(failures) == 5 and all(f.startswith("503 ") for f in failures)


async def test_a_warm_up_request_answered_late_is_not_recorded() -> None:
    # The first request of the run is answered after 0.3 s, long after the 20 warm-up answers have come
    # in on the other connections: it was sent in the warm-up, so it must not count.
    server = _Server(first_delay_s=0.3)
    latencies, failures = await _run(server, concurrency=4, warmup=20, total=200)
    assert len(latencies) == 200 and failures == []
    assert max(latencies) < 150
    assert server.requests == 224  # and the slow one was still awaited before the run ended
