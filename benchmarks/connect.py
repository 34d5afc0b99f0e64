"""Connect latency added by ttsign over the emulator.

Starts `ttsign emulate` (zero latency, strict) and `ttsign serve --upstream <emulator>` on port 0, then
times 1,000 connects at concurrency 50 (and 300 at concurrency 1) two ways, with the same client:

  direct   signed GET /webcast/im/fetch/ straight to the emulator (signed before the run starts)
  ttsign   GET /webcast/fetch?room_id=... to ttsign, which signs, calls the emulator and answers

and prints p50/p99 of each and the difference (the latency ttsign adds). Target: p50 < 3 ms, p99 < 15 ms.
The default is a closed loop (closed.py): each connection sends its next connect as soon as it has an
answer, and latency is recorded once the loop is in its steady state (the synchronized first wave of a
fresh loop is slower through any chain of two servers, and alone would be the p99 of 1,000 samples). The
client costs a few µs a request, so it takes little of the two cores the servers share. With `--rate R`
the concurrency run is open loop instead (paced.py): R connects per second on a fixed schedule over the
connections, latency counted from when each was due, as clients that connect now and then see it.
The concurrency run is repeated (`--rounds`, default 3: direct then ttsign each time, so each pair sees the
same machine speed) and the median of the rounds' added p50 and p99 is reported.
Usage: .venv/bin/python benchmarks/connect.py [--requests 1000] [--concurrency 50] [--rate R] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import uvloop
from closed import closed_loop
from paced import get_request, paced_load
from procs import Proc

from ttsign.config import Settings
from ttsign.signing import default_profile
from ttsign.upstream.identity import Identity, bootstrap_identity
from ttsign.upstream.refusals import Refusal
from ttsign.upstream.transport import CurlTransport
from ttsign.upstream.webcast import RoomRequest, WebcastClient

ROOM = "7390000000000000001"  # the emulator's default scenario
Prepare = Callable[[], tuple[str, dict[str, str]]]
Figures = dict[str, float]  # p50_ms and p99_ms


async def run(base: str, prepare: Prepare, total: int, concurrency: int, warmup: int) -> Figures:
    """Closed loop in steady state (closed.py). The direct path's requests are signed here, before the run
    (the emulator accepts a signature for 5 minutes); ttsign's are all the same connect."""
    host = urlsplit(base).netloc
    requests = [get_request(host, *prepare()) for _ in range(min(total + warmup, 2000))]
    result = await closed_loop(base, requests, concurrency=concurrency, warmup=warmup, total=total)
    if result.failures:
        raise SystemExit(f"closed loop: {len(result.failures)} failed requests, first: {result.failures[0]}")
    return {"p50_ms": result.pct(50), "p99_ms": result.pct(99)}


async def direct_preparer(emulator: str) -> Prepare:
    """The im/fetch ttsign itself sends for this connect, straight to the emulator: same identity kind,
    query, headers and signing (ttsign's own `WebcastClient.build_request`), so the emulator does the same
    work either way and the difference is what ttsign adds. curl adds the browser's default headers on the
    wire; they are captured from one real send and replayed."""
    profile = default_profile()
    rng = random.SystemRandom()
    transport = CurlTransport()
    try:
        identity = await bootstrap_identity(transport, emulator, profile, rng=rng)
        if isinstance(identity, Refusal):
            raise SystemExit(f"identity bootstrap against the emulator failed: {identity.code}")
        client = WebcastClient(transport, webcast_base=emulator, contact_email=Settings().contact_email, rng=rng)
        wire_headers = await _curl_headers(transport, identity)
    finally:
        await transport.aclose()

    def prepare() -> tuple[str, dict[str, str]]:
        parts = urlsplit(client.build_request(identity, RoomRequest(ROOM)).url)
        return f"{parts.path}?{parts.query}", wire_headers

    return prepare


async def _curl_headers(transport: CurlTransport, identity: Identity) -> dict[str, str]:
    """The header lines (Host aside) of an im/fetch as curl puts it on the wire, read by a one-shot listener."""
    heads: asyncio.Queue[bytes] = asyncio.Queue()

    async def capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await heads.put(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(capture, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        listener = WebcastClient(transport, webcast_base=f"http://127.0.0.1:{port}")
        await listener.fetch(identity, RoomRequest(ROOM))  # a refusal (no body): only the request matters
        head = (await heads.get()).decode("latin-1")
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
    headers.pop("Host", None)
    return headers


def through_preparer() -> Prepare:
    target = f"/webcast/fetch?{urlencode({'client': 'ttlive-python', 'room_id': ROOM})}"
    return lambda: (target, {"User-Agent": "TikTokLive.py/7.0.1"})


def report(name: str, figures: Figures) -> None:
    print(f"  {name:<8} p50={figures['p50_ms']:7.2f} ms  p99={figures['p99_ms']:7.2f} ms")


async def run_paced(base: str, prepare: Prepare, total: int, connections: int, rate: float) -> Figures:
    host = urlsplit(base).netloc

    def request(_: int) -> bytes:
        return get_request(host, *prepare())  # the direct path signs here, inside the schedule

    result = await paced_load(base, request, connections=connections, rate=rate, seconds=total / rate)
    if result.errors:
        raise SystemExit(f"paced run: {result.errors} failed requests: {dict(result.statuses)}")
    return {"p50_ms": result.pct(50), "p99_ms": result.pct(99)}


async def timed_run(
    proc: Proc, prepare: Prepare, total: int, concurrency: int, rate: float | None
) -> tuple[Figures, float]:
    """Figures of the path served by `proc` (closed loop, or open loop at `rate`), and its CPU ms per connect."""
    cpu_before = proc.cpu_s()
    if rate:
        figures, sent = await run_paced(proc.url, prepare, total, concurrency, rate), total
    else:
        warmup = 10 * concurrency  # unrecorded: the loop reaches its steady state first
        figures, sent = await run(proc.url, prepare, total, concurrency, warmup), total + warmup
    return figures, (proc.cpu_s() - cpu_before) / sent * 1000


async def measure(
    emulator: Proc, server: Proc, total: int, concurrency: int, rate: float | None = None, rounds: int = 3
) -> None:
    direct = await direct_preparer(emulator.url)
    through = through_preparer()
    # Warm up both paths (identity bootstrap, connection pools, cache-warm code paths).
    await run(emulator.url, direct, 1000, concurrency, 0)
    await run(server.url, through, 1000, concurrency, 0)
    for label, conc in (("concurrency 1", 1), (f"concurrency {concurrency}", concurrency)):
        n = total if conc == concurrency else min(total, 300)
        paced_rate = rate if conc == concurrency else None
        loop = f"open loop at {paced_rate:g}/s" if paced_rate else "closed loop"
        times = rounds if conc == concurrency else 1
        print(f"{label} ({n} connects each, {loop}{f', {times} rounds' if times > 1 else ''}):")
        added: list[tuple[float, float]] = []
        for _ in range(times):
            # Direct and through run back to back in each round: the VM's speed drifts over minutes, and a
            # pair measured together compares like with like.
            direct_figures, emulator_ms = await timed_run(emulator, direct, n, conc, paced_rate)
            through_figures, cpu_ms = await timed_run(server, through, n, conc, paced_rate)
            report("direct", direct_figures)
            report("ttsign", through_figures)
            added.append(
                (
                    through_figures["p50_ms"] - direct_figures["p50_ms"],
                    through_figures["p99_ms"] - direct_figures["p99_ms"],
                )
            )
            print(f"  added    p50={added[-1][0]:7.2f} ms  p99={added[-1][1]:7.2f} ms")
            # In a saturated closed loop on a shared box, the added latency is queueing for CPU: roughly the
            # concurrency times what ttsign costs beyond the emulator's own cost per im/fetch.
            print(f"  CPU per connect: ttsign {cpu_ms:.2f} ms, emulator {emulator_ms:.2f} ms (direct run)")
        if times > 1:
            p50 = statistics.median(a for a, _ in added)
            p99 = statistics.median(b for _, b in added)
            print(f"  added, median of {times} rounds: p50={p50:7.2f} ms  p99={p99:7.2f} ms", end="")
        print("   (target: p50 < 3 ms, p99 < 15 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=None, help="open loop: connects per second at concurrency")
    parser.add_argument("--rounds", type=int, default=3, help="direct/ttsign pairs at concurrency (median reported)")
    args = parser.parse_args()
    emulator = Proc("emulate", "--port", "0")
    try:
        server = Proc("serve", "--port", "0", "--upstream", emulator.url)
        try:
            print(f"emulator {emulator.url}  ttsign {server.url}  cpus={os.cpu_count()}")
            uvloop.run(measure(emulator, server, args.requests, args.concurrency, args.rate, args.rounds))
        finally:
            server.stop()
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
