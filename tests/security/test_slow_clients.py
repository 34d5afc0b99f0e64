"""Slow clients against a real `ttsign serve` (issue 12, items 2 and 6): stalled bodies, stalled and
trickled heads, idle connections. None of them may hold what honest requests need, each is cut off within
its time limit, and `/healthz` does not say "ok" while requests cannot be served.

The honest requests' latencies are printed (run with `-s` to see them).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
import websockets
from starlette.types import Message, Receive, Scope, Send

from tests.e2e.harness import EmulatorHandle, start_emulator
from tests.security.live_server import (
    LiveServer,
    connect,
    head,
    live_server,
    metric_total,
    read_answer,
    timed_get,
    timed_sign,
    wait_closed,
    wait_continue,
)
from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.api.app import create_app
from ttsign.api.http_protocol import ConnectionLimits, GuardedHttpProtocol, guarded_protocol
from ttsign.api.in_flight import InFlightLimit, InFlightSlots
from ttsign.api.server import bind_socket
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

STALLED = 64  # twice the default in-flight slots (32), from two addresses
BODY_TIMEOUT_S = 3.0  # shorter than the head's: the connection's one timer must still wake in time for it
HEADER_TIMEOUT_S = 4.0
KEEP_ALIVE_S = 2
HONEST_REQUESTS = 10
HONEST_BOUND_S = 1.5  # generous for 2 shared cores; unloaded an answer takes a few milliseconds
MARGIN_S = 2.5  # scheduling slack allowed past a limit before the cut-off counts as missing


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(None, strict=True, tls=False)
    yield handle
    handle.proc.stop()


@pytest.fixture(scope="module")
def server(emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    limits = {
        "TTSIGN_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "TTSIGN_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "TTSIGN_KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_S),
    }
    with live_server(emulator, tmp_path_factory.mktemp("slow"), **limits) as running:
        yield running


def honest_round(server: LiveServer) -> list[float]:
    """Rate-limit lookups and sign_url POSTs, both behind the in-flight queue (and neither waiting on TikTok,
    so only the server itself is measured); every one must succeed, each one timed."""
    latencies: list[float] = []
    with httpx.Client(timeout=HONEST_BOUND_S + 1) as http:
        for _ in range(HONEST_REQUESTS // 2):
            status, seconds = timed_get(http, f"{server.url}/webcast/rate_limits", client="ttlive-java")
            assert status == 200
            latencies.append(seconds)
            status, seconds = timed_sign(http, server.url)
            assert status == 200
            latencies.append(seconds)
    return latencies


def report(what: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    print(
        f"\n{what}: {len(ordered)} honest requests, "
        f"median {ordered[len(ordered) // 2] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


def stall_body(port: int, source: str, deadline: float) -> tuple[socket.socket, bool]:
    """A sign_url POST announcing 2,000 bytes and sending 10 of them, then nothing; also whether the server
    started reading the body (its `100 Continue`) before the deadline."""
    sock = connect(port, source=source, timeout=BODY_TIMEOUT_S + MARGIN_S)
    sock.sendall(
        head(
            "POST",
            "/webcast/sign_url",
            "Content-Type: application/json",
            "Content-Length: 2000",
            "Expect: 100-continue",
        )
    )
    reading = wait_continue(sock, deadline)
    sock.sendall(b'{"url": "h')
    return sock, reading


def test_stalled_bodies_hold_no_slot_and_are_cut_off(server: LiveServer) -> None:
    started = time.monotonic()
    attack = [stall_body(server.port, "127.0.0.1" if i % 2 else "127.0.0.2", started + 2) for i in range(STALLED)]
    stalled = [sock for sock, _ in attack]
    try:
        latencies = honest_round(server)
        report(f"{STALLED} stalled bodies", latencies)
        assert max(latencies) < HONEST_BOUND_S
        assert time.monotonic() - started < BODY_TIMEOUT_S, "too slow to prove anything: the stalls timed out"
        assert all(reading for _, reading in attack), "some stalled bodies were not even being read"
        with httpx.Client(timeout=3) as http:
            live = http.get(f"{server.url}/healthz")
        assert live.status_code == 200 and live.json()["status"] == "ok"

        cut_off: list[float] = []
        for sock in stalled:
            answer = read_answer(sock, started + BODY_TIMEOUT_S + MARGIN_S)
            assert answer is not None and answer.status == 408, answer
            assert answer.closed
            cut_off.append(time.monotonic() - started)
        print(f"stalled bodies answered 408 and closed after {min(cut_off):.2f}-{max(cut_off):.2f} s")
        assert max(cut_off) < BODY_TIMEOUT_S + 1.0  # on time, not at the connection's next head check
        with httpx.Client(timeout=3) as http:
            counted = metric_total(http.get(f"{server.url}/metrics").text, "ttsign_http_requests_total", status="408")
        assert counted >= STALLED  # counted as what they were, not as 499 hang-ups nor as errors
    finally:
        for sock in stalled:
            sock.close()


def trickle_until_cut(sock: socket.socket, deadline: float) -> tuple[float | None, bytes]:
    """Send one more byte of a header value every 0.2 s until the server closes the connection; when it
    did (None if not by the deadline), and what it sent first."""
    received = b""
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # once closed, sending fails: what was answered is still read
            sock.sendall(b"a")
        sock.settimeout(0.2)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return time.monotonic(), received
        received += chunk
    return None, received


def test_stalled_and_trickled_heads_are_closed_within_the_header_timeout(server: LiveServer) -> None:
    started = time.monotonic()
    partial = [connect(server.port, source="127.0.0.2") for _ in range(32)]
    for sock in partial:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
    idle = [connect(server.port) for _ in range(16)]
    trickling = connect(server.port)
    trickling.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ")
    try:
        latencies = honest_round(server)
        report("48 stalled heads", latencies)
        assert max(latencies) < HONEST_BOUND_S

        # A byte every 0.2 s: never idle for long, yet a head's deadline is total, not per byte.
        cut_at, received = trickle_until_cut(trickling, started + HEADER_TIMEOUT_S + MARGIN_S)
        assert cut_at is not None, "a trickled head was never cut off"
        assert received.startswith(b"HTTP/1.1 408") and cut_at - started > HEADER_TIMEOUT_S - 0.5

        for sock in partial:
            answer = read_answer(sock, started + HEADER_TIMEOUT_S + MARGIN_S)
            assert answer is not None and answer.status == 408 and answer.closed, answer
        for sock in idle:  # nothing begun, nothing to answer: closed silently
            closed_at = wait_closed(sock, started + HEADER_TIMEOUT_S + MARGIN_S)
            assert closed_at is not None
            assert closed_at - started > HEADER_TIMEOUT_S - 0.5  # not before the limit either
    finally:
        for sock in [*partial, *idle, trickling]:
            sock.close()


def test_a_later_request_on_a_kept_alive_connection_gets_its_own_head_deadline(server: LiveServer) -> None:
    with connect(server.port) as sock:
        sock.sendall(head("GET", "/healthz"))
        first = read_answer(sock, time.monotonic() + 5)
        assert first is not None and first.status == 200 and not first.closed
        begun = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the second head, unfinished
        second = read_answer(sock, begun + HEADER_TIMEOUT_S + MARGIN_S)
        assert second is not None and second.status == 408 and second.closed


def test_idle_keep_alive_connections_close_after_the_setting(server: LiveServer) -> None:
    with connect(server.port) as sock:
        sent = time.monotonic()
        sock.sendall(head("GET", "/healthz"))
        answer = read_answer(sock, time.monotonic() + 5)
        assert answer is not None and answer.status == 200 and not answer.closed
        idle_from = time.monotonic()
        closed_at = wait_closed(sock, idle_from + KEEP_ALIVE_S + MARGIN_S)
        assert closed_at is not None, "an idle keep-alive connection stayed open"
        assert closed_at - sent > KEEP_ALIVE_S - 0.5


async def test_healthz_and_readyz_say_stalled_when_requests_wait_and_none_finishes() -> None:
    """In-process: the one slot is held, a request waits behind it, nothing finishes for `stalled_after_s`."""
    settings = Settings(upstream="http://127.0.0.1:9", max_in_flight=1, stalled_after_s=0.3)
    app = create_app(settings, transport=FakeTikTok(), store=MemoryKeyStore())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=5) as http:
        slots = app.state.in_flight
        await slots.acquire()  # a request stuck in its slot
        queued = asyncio.create_task(http.get("/webcast/rate_limits"))
        try:
            deadline = time.monotonic() + 3
            while (live := await http.get("/healthz")).status_code == 200:
                assert time.monotonic() < deadline, "/healthz kept saying ok while nothing was served"
                await asyncio.sleep(0.05)
            assert live.status_code == 503
            assert live.json()["status"] == "stalled" and live.json()["waiting"] == 1
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["in_flight"]["ok"] is False
        finally:
            slots.release()
        assert (await queued).status_code == 200
        recovered = await http.get("/healthz")
        assert recovered.status_code == 200 and recovered.json()["status"] == "ok"
        assert (await http.get("/readyz")).json()["checks"]["in_flight"] == {"ok": True}


async def test_a_connection_handed_to_websocket_keeps_no_timer_and_is_not_cut() -> None:
    """The head timer belongs to the HTTP protocol: once uvicorn hands the connection to its WebSocket
    protocol, the timer stops for good and a socket idle past `header_timeout_s` stays open (the relay's
    sockets live for hours)."""
    timeout_s = 0.3
    opened: list[GuardedHttpProtocol] = []

    class Recorded(guarded_protocol(ConnectionLimits(16384, timeout_s, timeout_s))):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            opened.append(self)
            super().connection_made(transport)

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            while (message := await receive())["type"] == "websocket.receive":
                await send({"type": "websocket.send", "text": message.get("text")})

    server = uvicorn.Server(uvicorn.Config(echo, http=Recorded, log_config=None, lifespan="off"))
    sock = bind_socket("127.0.0.1", 0)
    running = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with websockets.connect(f"ws://127.0.0.1:{sock.getsockname()[1]}/ws") as ws:
            await asyncio.sleep(timeout_s * 4)  # idle well past the head deadline
            await ws.send("still here")
            assert await asyncio.wait_for(ws.recv(), 2) == "still here"
            assert len(opened) == 1 and opened[0]._timer is None
    finally:
        server.should_exit = True
        await asyncio.wait_for(running, 5)
        sock.close()


async def test_event_streams_take_no_in_flight_slot() -> None:
    """A server-sent event stream lasts as long as its viewer watches: holding a slot, 32 viewers would stop
    the API as 32 stalled bodies did."""
    slots = InFlightSlots(1)
    busy_during: dict[str, int] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        busy_during[scope["path"]] = slots.busy

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    async def ignore(message: Message) -> None:
        return None

    limit = InFlightLimit(app, slots)
    for path in ("/events", "/webcast/fetch"):
        await limit({"type": "http", "path": path}, nothing, ignore)
    assert busy_during == {"/events": 0, "/webcast/fetch": 1}
