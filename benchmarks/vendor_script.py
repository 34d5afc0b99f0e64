"""The vendor-script signer backend beside native, in one run: signatures per second and p99 per signature.

Rows: TikTok's webmssdk called directly inside Node (the ceiling: the SDK's XHR hook called in a loop in
the worker, one browser and the page's clock, no pipe, no JSON), one worker at concurrency 1 and its
per-call overhead over the ceiling, a pool of 2 workers under load, and the native backend. Every vendor
call signs a whole request (the SDK's XHR hook adds msToken, X-Bogus and X-Gnarly together; the bundle
has no public X-Bogus-only entry point). That holds for all three builds of tiktok-signature@4.3.6:
1.0.0.368 and 2.0.0.485 sign X-Gnarly (5.1.3-ZTCA) too, and their hook sends a tick later, so a worker
runs their calls one at a time (`--bundle .../webmssdk_2.0.0.485.js`). It runs on uvloop, the server's event loop.

The ceiling and the one-worker calls are measured in alternating rounds of `--batch` calls each, and the
overhead is the median over rounds of (the round's p50 through the worker - the round's p50 in Node): a
machine whose load drifts during the run moves both halves of a round together. Each round also times
round trips to the worker with nothing signed (the pipe, the JSON and both processes waking, which on this
VM, its idle virtual CPUs halting with no halt polling, is most of the overhead), and signs timed inside the
worker as well (`timed_sign`), so a call's time outside the SDK stands apart from the SDK running colder than
in a loop. The one-worker row calls the backend itself; the loaded rows go through the signer chain as the
server does, which also decodes and checks every foreign answer (about 0.1-0.2 ms of Python per call).

    python benchmarks/vendor_script.py [--bundle PATH] [--seconds 3] [--concurrency 16] [--batch 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

from ttsign.signers.backend import SignerBackend, SignJob
from ttsign.signers.chain import SignerChain
from ttsign.signers.native import NativeBackend
from ttsign.signers.vendor_script import VendorScriptBackend, VendorScriptOptions
from ttsign.signing import default_profile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "tests/e2e/node-webmssdk/node_modules/tiktok-signature/javascript/webmssdk_5.1.3.js"
URL = (
    "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&app_language=en-US&app_name=tiktok_web"
    "&browser_language=en-US&browser_name=Mozilla&browser_online=true&browser_platform=Win32&cookie_enabled=true"
    "&cursor=&device_platform=web&did_rule=3&fetch_rule=1&identity=audience&live_id=12&resp_content_type=protobuf"
    "&room_id=7440485397569376621&version_code=270000&webcast_sdk_version=1.3.0"
)


def _job() -> SignJob:
    return SignJob("GET", URL, "", default_profile(), time.time_ns() // 1_000_000)


async def _run(chain: SignerChain, seconds: float, concurrency: int) -> tuple[float, list[float]]:
    """Signatures per second and each call's latency, `concurrency` callers for `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    rng = random.Random(1)

    async def caller() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await chain.sign(_job(), rng)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


@dataclass
class Rounds:
    """Per-call seconds of each part of the alternating rounds, and each round's overhead."""

    ceiling: list[float] = field(default_factory=list)  # signs in Node
    worker: list[float] = field(default_factory=list)  # calls through the worker
    trips: list[float] = field(default_factory=list)  # round trips with nothing signed
    outside: list[float] = field(default_factory=list)  # a call's time outside the worker's sign
    overheads: list[float] = field(default_factory=list)  # p50 through the worker - p50 in Node, per round


async def _rounds(one: VendorScriptBackend, seconds: float, batch: int) -> Rounds:
    """Alternating rounds for `seconds`: `batch` signs in Node, `batch` calls through the worker, `batch`
    round trips to it with nothing signed, and `batch` calls timed inside the worker too."""
    rounds = Rounds()
    rng = random.Random(1)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rounds.overheads) < 3:
        direct = await one.direct_latencies(_job(), batch)
        latencies = [await _timed(one.sign(_job(), rng)) for _ in range(batch)]
        rounds.trips += [await _timed(one.ping()) for _ in range(batch)]
        for _ in range(batch):
            total, inside = await one.timed_sign(_job())
            rounds.outside.append(total - inside)
        rounds.overheads.append(statistics.median(latencies) - statistics.median(direct))
        rounds.ceiling += direct
        rounds.worker += latencies
    return rounds


async def _timed(call: Awaitable[object]) -> float:
    started = time.perf_counter()
    await call
    return time.perf_counter() - started


def _row(name: str, rate: float, latencies: list[float]) -> str:
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) >= 100 else max(latencies) * 1000
    return f"{name:<44} {rate:>10,.0f}/s   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"


async def main(bundle: Path, seconds: float, concurrency: int, batch: int) -> None:
    one = VendorScriptBackend(VendorScriptOptions(bundle, workers=1, in_flight=1, timeout_s=60))
    pool = VendorScriptBackend(VendorScriptOptions(bundle, workers=2))
    try:
        await asyncio.gather(*(one.sign(_job(), random.Random(0)) for _ in range(64)))  # start and warm up
        await asyncio.gather(*(pool.sign(_job(), random.Random(0)) for _ in range(64)))
        await one.direct_latencies(_job(), batch)
        rounds = await _rounds(one, 2 * seconds, batch)
        ceiling, worker, trips, overheads = rounds.ceiling, rounds.worker, rounds.trips, sorted(rounds.overheads)
        print(_row(f"{bundle.stem} called directly in Node", 1 / statistics.mean(ceiling), ceiling) + "  (the ceiling)")
        print(_row("vendor-script, 1 worker, 1 caller", 1 / statistics.mean(worker), worker))
        quartiles = f"{overheads[len(overheads) // 4] * 1000:.3f} to {overheads[3 * len(overheads) // 4] * 1000:.3f}"
        print(f"{'  worker overhead per call (p50 - ceiling p50)':<44} {statistics.median(overheads) * 1000:>10.3f} ms"
              f"   (median of {len(overheads)} rounds; quartiles {quartiles})")  # fmt: skip
        print(_row("  of which a round trip alone (nothing signed)", 1 / statistics.mean(trips), trips))
        outside = statistics.median(rounds.outside) * 1000
        print(f"{'  a sign call outside the SDK (all - inside)':<44} {outside:>10.3f} ms   p50 (the pipe and both "
              "processes waking; the rest of the overhead is the SDK running colder than in a loop)")  # fmt: skip
        for name, backend, callers in (
            (f"vendor-script, 2 workers, {concurrency} callers", pool, concurrency),
            (f"native, {concurrency} callers", NativeBackend(), concurrency),
        ):
            chain_backends: list[SignerBackend] = [backend]
            rate, lat = await _run(SignerChain(chain_backends), seconds, callers)
            print(_row(name, rate, lat))
        # The pool's own ceiling on this machine: both workers signing in Node at once, no pipe, no Python.
        started = time.perf_counter()
        both = await asyncio.gather(*(pool.direct_latencies(_job(), 4 * batch) for _ in range(2)))
        rate = sum(len(each) for each in both) / (time.perf_counter() - started)
        print(_row("  the SDK alone in both workers at once", rate, [s for each in both for s in each]))
    finally:
        await one.aclose()
        await pool.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="webmssdk.js (default: the test copy)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timed run")
    parser.add_argument("--concurrency", type=int, default=16, help="callers in the loaded runs")
    parser.add_argument("--batch", type=int, default=50, help="calls per round of the ceiling/one-worker rounds")
    args = parser.parse_args()
    uvloop.run(main(args.bundle, args.seconds, args.concurrency, args.batch))  # the server's event loop
