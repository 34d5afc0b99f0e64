"""Connect latency added by ttsign over the emulator.

Starts `ttsign emulate --era 2026-08` (zero latency, strict) and `ttsign serve --upstream <emulator>` with the
fetch strategy alone, fully signed (the im/fetch path this benchmark has always measured; the direct strategy
is benchmarks/connect_direct.py's) on port 0, then
times 1,000 connects at concurrency 50 (and 300 at concurrency 1) two ways, with the same client:

  direct   the signed GET /webcast/im/fetch/ ttsign itself would send, straight to the emulator (same
           query, headers and signing, built by ttsign's own code before the run starts)
  ttsign   GET /webcast/fetch?room_id=... to ttsign, which signs, calls the emulator and answers

and prints p50/p99 of each and the difference (the latency ttsign adds). Target: p50 < 3 ms, p99 < 15 ms.
The default is a closed loop (closed.py): each connection sends its next connect as soon as it has an
answer, and latency is recorded once the loop is in its steady state (the synchronized first wave of a
fresh loop is slower through any chain of two servers, and alone would be the p99 of 1,000 samples). The
client costs 0.06-0.09 ms of CPU a connect (about a third of it in the kernel), against the servers'
0.55-0.9 ms each. With `--rate R` the concurrency run is open loop instead (paced.py): R connects per
second on a fixed schedule over the connections, latency counted from when each was due, as clients that
connect now and then see it.
The closed loop at concurrency is measured `--repeats` times (default 15). A repeat is 1,000 connects per
path, sent in `--blocks` (default 10) blocks that take turns between three paths: direct, ttsign, and a
control that is the direct path once more. This VM's speed drifts by tens of percent within seconds, so
every path must see the same stretches of it; even so, one repeat's control differs from direct by several
ms at p50 (two measurements of the same thing), which is as much as the target allows. The target is
therefore judged on the median over the repeats of what ttsign adds, printed beside the control's.
Usage: .venv/bin/python benchmarks/connect.py [--requests 1000] [--concurrency 50] [--rate R] [--blocks 10]
       [--repeats 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
TARGET_P50_MS, TARGET_P99_MS = 3.0, 15.0  # added by ttsign at concurrency 50 (issue 3)
TARGET = f"target: p50 < {TARGET_P50_MS:g} ms, p99 < {TARGET_P99_MS:g} ms"


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
    print(f"  added    p50={p50:7.2f} ms  p99={p99:7.2f} ms   ({TARGET})")


async def run_paced(base: str, prepare: Prepare, total: int, connections: int, rate: float) -> Figures:
    host = urlsplit(base).netloc

    def request(_: int) -> bytes:
        return get_request(host, *prepare())  # the direct path signs here, inside the schedule

    result = await paced_load(base, request, connections=connections, rate=rate, seconds=total / rate)
    if result.errors:
        raise SystemExit(f"paced run: {result.errors} failed requests: {dict(result.statuses)}")
    return {"p50_ms": result.pct(50), "p99_ms": result.pct(99)}


class CpuLedger:
    """CPU seconds of ttsign and of the emulator, charged to the path whose requests they answered."""

    def __init__(self, emulator: Proc, server: Proc) -> None:
        self._procs = {"emulator": emulator, "ttsign": server}
        self._seconds: dict[tuple[str, str], float] = defaultdict(float)
        self._sent: dict[str, int] = defaultdict(int)

    @contextmanager
    def charge(self, path: str, sent: int) -> Iterator[None]:
        before = {role: proc.cpu_s() for role, proc in self._procs.items()}
        yield
        for role, proc in self._procs.items():
            self._seconds[role, path] += proc.cpu_s() - before[role]
        self._sent[path] += sent

    def ms_per_connect(self, role: str, path: str) -> float:
        return self._seconds[role, path] / self._sent[path] * 1000


def sent_in_closed_loop(recorded: int, warmup: int, concurrency: int) -> int:
    """Requests a closed.py run sends: the warm-up, the recorded ones, and `concurrency` more after them."""
    return warmup + recorded + concurrency


async def timed_run(
    cpu: CpuLedger, path: str, base: str, prepare: Prepare, total: int, concurrency: int, rate: float | None
) -> Figures:
    """Figures of one path (closed loop, or open loop at `rate`), its servers' CPU charged to it in `cpu`."""
    if rate:
        with cpu.charge(path, total):
            return await run_paced(base, prepare, total, concurrency, rate)
    warmup = 10 * concurrency  # unrecorded: the loop reaches its steady state first
    with cpu.charge(path, sent_in_closed_loop(total, warmup, concurrency)):
        return await run(base, prepare, total, concurrency, warmup)


# One path of the closed loop: its name, the base URL it is sent to, and its request builder.
Path = tuple[str, str, Prepare]


@dataclass
class Repeat:
    """One repeat of the closed-loop comparison: every path's latencies over the same stretch of time."""

    latencies: dict[str, list[float]]

    def p(self, name: str, pct: float) -> float:
        return percentile(self.latencies[name], pct)

    def added(self, name: str, pct: float) -> float:
        """What path `name` adds over the direct path at percentile `pct` (ms)."""
        return self.p(name, pct) - self.p("direct", pct)


async def interleaved(paths: list[Path], total: int, conc: int, blocks: int, cpu: CpuLedger) -> Repeat:
    """`total` connects per path in `blocks` blocks, the paths taking turns (the order rotates from block
    to block), each block a steady-state loop of its own (3 requests per connection unrecorded). The VM's
    speed drifts by tens of percent within seconds; a path measured in one stretch and the other in the
    next compared the weather, not the servers."""
    per_block = -(-total // blocks)
    warmup = 3 * conc
    latencies: dict[str, list[float]] = {name: [] for name, _, _ in paths}
    for block in range(blocks):
        shift = block % len(paths)
        for name, base, prepare in paths[shift:] + paths[:shift]:
            with cpu.charge(name, sent_in_closed_loop(per_block, warmup, conc)):
                latencies[name] += await run_latencies(base, prepare, per_block, conc, warmup)
    return Repeat(latencies)


async def repeated(
    emulator: Proc, server: Proc, direct: Prepare, through: Prepare, total: int, conc: int, blocks: int, repeats: int
) -> None:
    """The closed loop at concurrency, `repeats` times over. Each repeat interleaves three paths: direct,
    ttsign, and a control that is the direct path again. What the control "adds" over direct is the noise
    floor of one repeat on this machine (two measurements of the same thing): a single 1,000-connect
    comparison differs by several ms at p50 with no server in between, so the target is judged on the median
    of the repeats, and each repeat is printed beside its control."""
    paths: list[Path] = [
        ("direct", emulator.url, direct),
        ("ttsign", server.url, through),
        ("control", emulator.url, direct),
    ]
    cpu = CpuLedger(emulator, server)
    print("  repeat   direct p50/p99     ttsign p50/p99     added p50/p99      control added p50/p99")
    runs: list[Repeat] = []
    for number in range(1, repeats + 1):
        run_ = await interleaved(paths, total, conc, blocks, cpu)
        runs.append(run_)
        print(
            f"  {number:<6} {run_.p('direct', 50):7.2f} /{run_.p('direct', 99):7.2f}"
            f"  {run_.p('ttsign', 50):7.2f} /{run_.p('ttsign', 99):7.2f}"
            f"  {run_.added('ttsign', 50):+7.2f} /{run_.added('ttsign', 99):+7.2f}"
            f"  {run_.added('control', 50):+7.2f} /{run_.added('control', 99):+7.2f}"
        )
    summary = summarize(runs)
    print(
        f"  added, median of {repeats} repeats: p50 {summary['ttsign p50']:+.2f} ms,"
        f" p99 {summary['ttsign p99']:+.2f} ms   ({TARGET});"
        f" repeats within both: {summary['ttsign within']:.0f} of {repeats}"
    )
    print(
        f"  control, median of {repeats} repeats: p50 {summary['control p50']:+.2f} ms,"
        f" p99 {summary['control p99']:+.2f} ms; its repeats span"
        f" p50 {summary['control p50 min']:+.2f}..{summary['control p50 max']:+.2f},"
        f" p99 {summary['control p99 min']:+.2f}..{summary['control p99 max']:+.2f} ms;"
        f" repeats within both: {summary['control within']:.0f} of {repeats}"
    )
    # Saturated on a shared box, a closed loop's added latency is queueing for CPU: about the concurrency
    # times what ttsign costs beyond the emulator's own cost per im/fetch, once ttsign is the busier process.
    print(
        f"  CPU per connect: ttsign {cpu.ms_per_connect('ttsign', 'ttsign'):.2f} ms; emulator "
        f"{cpu.ms_per_connect('emulator', 'direct'):.2f} ms answering directly, "
        f"{cpu.ms_per_connect('emulator', 'ttsign'):.2f} ms answering ttsign"
    )


def summarize(runs: list[Repeat]) -> dict[str, float]:
    """Medians over the repeats of what ttsign and the control add at p50 and p99, their ranges, and how
    many repeats of each met both targets."""
    summary: dict[str, float] = {}
    for name in ("ttsign", "control"):
        for pct in (50, 99):
            values = [run_.added(name, pct) for run_ in runs]
            summary[f"{name} p{pct}"] = statistics.median(values)
            summary[f"{name} p{pct} min"], summary[f"{name} p{pct} max"] = min(values), max(values)
        summary[f"{name} within"] = sum(
            run_.added(name, 50) < TARGET_P50_MS and run_.added(name, 99) < TARGET_P99_MS for run_ in runs
        )
    return summary


async def measure(emulator: Proc, server: Proc, args: argparse.Namespace) -> None:
    total, concurrency, rate = args.requests, args.concurrency, args.rate
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
        print(
            f"concurrency {concurrency} (closed loop; per repeat {total} connects per path in {args.blocks}"
            f" interleaved blocks; {args.repeats} repeats):"
        )
        await repeated(emulator, server, direct, through, total, concurrency, args.blocks, args.repeats)


async def paired(
    emulator: Proc, server: Proc, direct: Prepare, through: Prepare, total: int, conc: int, rate: float | None
) -> None:
    """One run of each path, back to back."""
    cpu = CpuLedger(emulator, server)
    direct_figures = await timed_run(cpu, "direct", emulator.url, direct, total, conc, rate)
    through_figures = await timed_run(cpu, "ttsign", server.url, through, total, conc, rate)
    report(direct_figures, through_figures)
    print(
        f"  CPU per connect: ttsign {cpu.ms_per_connect('ttsign', 'ttsign'):.2f} ms, "
        f"emulator {cpu.ms_per_connect('emulator', 'direct'):.2f} ms (direct run)"
    )


# The im/fetch path: ttsign's answer is TikTok's bytes, as the direct baseline's (see the module docstring).
FETCH_PATH = {
    "TTSIGN_CONNECT_STRATEGIES": '["fetch"]',
    "TTSIGN_SIGNATURES_BY_ENDPOINT": '{"im_fetch": ["msToken", "X-Bogus", "X-Gnarly"]}',
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=None, help="open loop: connects per second at concurrency")
    parser.add_argument("--blocks", type=int, default=10, help="interleaved blocks of each closed-loop repeat")
    parser.add_argument(
        "--repeats", type=int, default=15, help="closed-loop repeats (the target is judged on their median)"
    )
    args = parser.parse_args()
    emulator = Proc("emulate", "--port", "0", "--era", "2026-08")
    try:
        server = Proc("serve", "--port", "0", "--upstream", emulator.url, env=FETCH_PATH)
        try:
            print(f"emulator {emulator.url}  ttsign {server.url}  cpus={os.cpu_count()}")
            uvloop.run(measure(emulator, server, args))
        finally:
            server.stop()
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
