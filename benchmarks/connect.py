"""Connect latency added by ttsign over the emulator.

Starts `ttsign emulate` (zero latency, strict) and `ttsign serve --upstream <emulator>` on port 0, then
times 1,000 connects at concurrency 50 (and 300 at concurrency 1) two ways, with the same client:

  direct   the signed GET /webcast/im/fetch/ ttsign itself would send, straight to the emulator (same
           query, headers and signing, built by ttsign's own code before the run starts)
  ttsign   GET /webcast/fetch?room_id=... to ttsign, which signs, calls the emulator and answers

and prints p50/p99 of each and the difference (the latency ttsign adds). Target: p50 < 3 ms, p99 < 15 ms.
The default is a closed loop (closed.py): each connection sends its next connect as soon as it has an
answer, and latency is recorded once the loop is in its steady state (the synchronized first wave of a
fresh loop is slower through any chain of two servers, and alone would be the p99 of 1,000 samples). The
client costs a few µs a request, so it takes little of the two cores the servers share. With `--rate R`
the concurrency run is open loop instead (paced.py): R connects per second on a fixed schedule over the
connections, latency counted from when each was due, as clients that connect now and then see it.
The closed loop at concurrency runs in `--blocks` (default 10) alternating blocks of direct and ttsign, and
p50/p99 are taken over all the blocks' samples: this VM's speed drifts by tens of percent within seconds,
so each path must see the same stretches of it.
Usage: .venv/bin/python benchmarks/connect.py [--requests 1000] [--concurrency 50] [--rate R] [--blocks 10]
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
from paced import get_request, paced_load, percentile
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
    """Closed loop in steady state (closed.py): p50 and p99 of `total` connects."""
    latencies = await run_latencies(base, prepare, total, concurrency, warmup)
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


async def run_latencies(base: str, prepare: Prepare, total: int, concurrency: int, warmup: int) -> list[float]:
    """The latencies (ms) of one steady-state closed loop. The direct path's requests are signed here, before
    the run (the emulator accepts a signature for 5 minutes); ttsign's are all the same connect."""
    host = urlsplit(base).netloc
    requests = [get_request(host, *prepare()) for _ in range(min(total + warmup, 2000))]
    result = await closed_loop(base, requests, concurrency=concurrency, warmup=warmup, total=total)
    if result.failures:
        raise SystemExit(f"closed loop: {len(result.failures)} failed requests, first: {result.failures[0]}")
    return result.latencies_ms


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


def report(direct: Figures, through: Figures) -> None:
    """Both paths' figures and their difference, against the target."""
    for name, figures in (("direct", direct), ("ttsign", through)):
        print(f"  {name:<8} p50={figures['p50_ms']:7.2f} ms  p99={figures['p99_ms']:7.2f} ms")
    p50, p99 = through["p50_ms"] - direct["p50_ms"], through["p99_ms"] - direct["p99_ms"]
    print(f"  added    p50={p50:7.2f} ms  p99={p99:7.2f} ms   (target: p50 < 3 ms, p99 < 15 ms)")


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
        figures = await run(proc.url, prepare, total, concurrency, warmup)
        sent = total + warmup + concurrency  # closed.py follows the recorded requests with `concurrency` more
    return figures, (proc.cpu_s() - cpu_before) / sent * 1000


async def interleaved(
    emulator: Proc, server: Proc, direct: Prepare, through: Prepare, total: int, conc: int, blocks: int
) -> None:
    """The closed loop at concurrency, direct and through ttsign in alternating blocks (which goes first
    alternates too), each block a steady-state loop of its own (3 requests per connection unrecorded), and
    the figures taken over all blocks' samples. The VM's speed drifts by tens of percent within seconds; a
    path measured in one stretch and the other in the next compared the weather, not the servers."""
    per_block = -(-total // blocks)
    warmup = 3 * conc
    latencies: dict[str, list[float]] = {"direct": [], "ttsign": []}
    cpu_s = {"ttsign": 0.0, "emulator direct": 0.0, "emulator for ttsign": 0.0}
    block_added: list[float] = []
    for block in range(blocks):
        pair = [("direct", emulator, direct), ("ttsign", server, through)]
        if block % 2:
            pair.reverse()
        medians: dict[str, float] = {}
        for name, proc, prepare in pair:
            ttsign_before, emulator_before = server.cpu_s(), emulator.cpu_s()
            got = await run_latencies(proc.url, prepare, per_block, conc, warmup)
            if name == "ttsign":
                cpu_s["ttsign"] += server.cpu_s() - ttsign_before
                cpu_s["emulator for ttsign"] += emulator.cpu_s() - emulator_before
            else:
                cpu_s["emulator direct"] += emulator.cpu_s() - emulator_before
            latencies[name] += got
            medians[name] = percentile(got, 50)
        block_added.append(medians["ttsign"] - medians["direct"])
    figures = {name: {"p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99)} for name, v in latencies.items()}
    report(figures["direct"], figures["ttsign"])
    spread = sorted(block_added)
    print(f"  added p50 by block: min {spread[0]:.2f}, median {statistics.median(spread):.2f}, max {spread[-1]:.2f} ms")
    sent = blocks * (per_block + warmup + conc)  # closed.py follows the recorded requests with `conc` more
    # Saturated on a shared box, a closed loop's added latency is queueing for CPU: about the concurrency
    # times what ttsign costs beyond the emulator's own cost per im/fetch, once ttsign is the busier process.
    ms = {name: seconds / sent * 1000 for name, seconds in cpu_s.items()}
    print(
        f"  CPU per connect: ttsign {ms['ttsign']:.2f} ms; emulator {ms['emulator direct']:.2f} ms answering directly, "
        f"{ms['emulator for ttsign']:.2f} ms answering ttsign"
    )


async def measure(
    emulator: Proc, server: Proc, total: int, concurrency: int, rate: float | None = None, blocks: int = 10
) -> None:
    direct = await direct_preparer(emulator.url)
    through = through_preparer()
    # Warm up both paths (identity bootstrap, connection pools, cache-warm code paths).
    await run(emulator.url, direct, 1000, concurrency, 0)
    await run(server.url, through, 1000, concurrency, 0)
    print(f"concurrency 1 ({min(total, 300)} connects each, closed loop):")
    await paired(emulator, server, direct, through, min(total, 300), 1, None)
    if rate:
        print(f"concurrency {concurrency} ({total} connects each, open loop at {rate:g}/s):")
        await paired(emulator, server, direct, through, total, concurrency, rate)
    else:
        print(f"concurrency {concurrency} ({total} connects each, closed loop, {blocks} interleaved blocks):")
        await interleaved(emulator, server, direct, through, total, concurrency, blocks)


async def paired(
    emulator: Proc, server: Proc, direct: Prepare, through: Prepare, total: int, conc: int, rate: float | None
) -> None:
    """One run of each path, back to back."""
    direct_figures, emulator_ms = await timed_run(emulator, direct, total, conc, rate)
    through_figures, cpu_ms = await timed_run(server, through, total, conc, rate)
    report(direct_figures, through_figures)
    print(f"  CPU per connect: ttsign {cpu_ms:.2f} ms, emulator {emulator_ms:.2f} ms (direct run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=None, help="open loop: connects per second at concurrency")
    parser.add_argument("--blocks", type=int, default=10, help="alternating direct/ttsign blocks of the closed loop")
    args = parser.parse_args()
    emulator = Proc("emulate", "--port", "0")
    try:
        server = Proc("serve", "--port", "0", "--upstream", emulator.url)
        try:
            print(f"emulator {emulator.url}  ttsign {server.url}  cpus={os.cpu_count()}")
            uvloop.run(measure(emulator, server, args.requests, args.concurrency, args.rate, args.blocks))
        finally:
            server.stop()
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
