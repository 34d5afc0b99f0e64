"""Connects through the direct strategy (issue 17): an open loop at 500 connects/s, the socket open time
beside it, and the CPU per connect of direct against fetch, measured in the same run.

- open loop: `ttsign serve` (default strategies: direct, fetch) in front of `ttsign emulate` (era 2026-09);
  request i is due at start + i/rate on connection i mod 50 (up to 50 in flight), latency from the due time.
- socket open: the client's next step, timed on its own: the WebSocket handshake to the emulator with the
  push_server, route params and ttwid of a direct answer.
- CPU per connect: the server's user+system CPU over a paced run, divided by the connects it answered, for
  direct (era 2026-09) and for fetch (`TTSIGN_CONNECT_STRATEGIES=["fetch"]`, fully signed, era 2026-08);
  a core's capacity is 1 / CPU per connect. Beside them the HTTP floor (benchmarks/asgi_floor.py: a trivial
  app answering at once, served as `ttsign serve` serves): what no strategy can go below on this stack.
  Runs take turns (direct, fetch, floor) `--cpu-repeats` times, so all see the same stretches of the VM's
  drifting speed; medians are printed.
- capacity: the same three servers saturated by wrk (closed loop, `--capacity-connections`): connects
  answered per second, the share of a core the server used meanwhile, so connects per second per core of
  CPU, and CPU per connect. This is what one core can carry; the paced figure above adds what waking for
  each request alone costs at a light load (an idle loop's epoll, timers and syscalls per request). The
  strict emulator answers im/fetch too slowly to saturate fetch, so its capacity run fetches from the
  fastest TikTok possible instead (`asgi_floor.py --tiktok`: canned cookie page and fetch result; ttsign
  still signs fully, sends, classifies and answers each one). A server shown using well under a whole
  core was held back by what it waits on (wrk and the upstream share this machine's two cores).

Identities' socket budgets are lifted (the budget would rotate an identity every 12 connects: a property of
TikTok, not of ttsign's speed). Prints figures; asserts nothing. Usage: python benchmarks/connect_direct.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlencode, urlsplit

import httpx
from paced import PacedResult, get_request, paced_load, percentile
from procs import Proc
from procs import cpu_seconds as cpu_of_pid
from sign_url import parse_wrk
from websockets.asyncio.client import connect

from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult

ROOM = "7390000000000000001"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
QUERY = urlencode({"client": "ttlive-python", "room_id": ROOM, "user_agent": CHROME_UA}, quote_via=quote)
LIFTED = {"TTSIGN_IDENTITY_SOCKET_CONNECTS_PER_HOUR": "1000000000", "TTSIGN_LOG_LEVEL": "WARNING"}
T = TypeVar("T")
FULL_SIGNATURES = '{"im_fetch": ["msToken", "X-Bogus", "X-Gnarly"]}'


def emulator(era: str) -> Proc:
    scenario = Path(tempfile.mkdtemp(prefix="ttsign-bench-")) / "scenario.json"
    scenario.write_text(json.dumps({"era_2026_09": {"socket_connects_per_hour": 1_000_000_000}}))
    return Proc("emulate", "--port", "0", "--era", era, "--scenario", str(scenario))


def connect_bytes(base: str) -> bytes:
    return get_request(urlsplit(base).netloc, f"/webcast/fetch?{QUERY}", {"User-Agent": "TikTokLive.py/7.0.1"})


async def warm(server: str, count: int = 20) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(count):
            response = await http.get(f"{server}/webcast/fetch?{QUERY}")
            response.raise_for_status()
    return response


async def socket_open_ms(answer: httpx.Response, samples: int) -> list[float]:
    result = ProtoMessageFetchResult.FromString(answer.content)
    url = f"{result.push_server}?{urlencode(dict(result.route_params), quote_via=quote)}"
    headers = {"Cookie": answer.headers["x-set-tt-cookie"], "User-Agent": CHROME_UA}
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        async with connect(url, additional_headers=headers):
            times.append((time.perf_counter() - started) * 1000)
    return times


def summary(values: list[float]) -> str:
    return "  ".join(f"p{q} {percentile(values, q):.2f} ms" for q in (50, 90, 99))


def report_loop(loop: PacedResult, rate: float, seconds: float) -> None:
    print(f"direct, open loop {rate:.0f}/s for {seconds:.0f} s, 50 connections: {len(loop.latencies_ms)} connects")
    print(f"  {summary(loop.latencies_ms)}  statuses {dict(loop.statuses)}")


class Floor:
    """benchmarks/asgi_floor.py in a child process, stopped by PID."""

    def __init__(self, *options: str) -> None:
        script = str(Path(__file__).with_name("asgi_floor.py"))
        command = [sys.executable, script, *options]
        self.popen = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.popen.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.popen.stdout, selectors.EVENT_READ)
            if not sel.select(30):
                self.stop()
                raise SystemExit("asgi_floor: no ready line")
        self.url: str = json.loads(self.popen.stdout.readline())["url"]

    def cpu_s(self) -> float:
        return cpu_of_pid(self.popen.pid)

    def stop(self) -> None:
        self.popen.terminate()
        self.popen.wait(10)


async def cpu_per_connect(server: Proc | Floor, rate: float, seconds: float) -> tuple[float, int]:
    before = server.cpu_s()
    result = await paced_load(
        server.url, lambda _: connect_bytes(server.url), connections=20, rate=rate, seconds=seconds
    )
    served = result.statuses["200"]
    return (server.cpu_s() - before) / max(1, served) * 1000, served


async def in_turns(
    servers: dict[str, Proc | Floor], repeats: int, measure: Callable[[str, Proc | Floor], Awaitable[T]]
) -> dict[str, list[T]]:
    """`measure` each server in turn, `repeats` rounds, so all see the same stretches of the VM's speed."""
    runs: dict[str, list[T]] = {name: [] for name in servers}
    for _ in range(repeats):
        for name, server in servers.items():
            runs[name].append(await measure(name, server))
    return runs


async def report_cpu(servers: dict[str, Proc | Floor], rate: float, seconds: float, repeats: int) -> None:

    async def measure(name: str, server: Proc | Floor) -> float:
        return (await cpu_per_connect(server, rate, seconds))[0]

    runs = await in_turns(servers, repeats, measure)
    ms = {name: statistics.median(values) for name, values in runs.items()}
    print(f"CPU per connect at {rate:.0f}/s, median of {repeats} runs of {seconds:.0f} s each (all runs in ms):")
    for name, values in runs.items():
        print(f"  {name:<6} {ms[name]:.3f} ms  ({', '.join(f'{value:.3f}' for value in values)})")
    direct, fetch, floor = ms["direct"], ms["fetch"], ms["floor"]
    print(f"  fetch costs {fetch / direct:.2f}x direct; connects per second per core: direct {1000 / direct:.0f}, "
          f"fetch {1000 / fetch:.0f}")  # fmt: skip
    print(f"  above the HTTP floor: direct {direct - floor:.3f} ms, fetch {fetch - floor:.3f} ms "
          f"(direct can be at most {fetch / floor:.2f}x cheaper than fetch on this stack)")  # fmt: skip


@dataclass(frozen=True)
class Capacity:
    connects_per_s: float
    cores: float  # the share of one core the server used while saturated

    @property
    def per_core(self) -> float:
        return self.connects_per_s / self.cores


async def saturated(server: Proc | Floor, path: str, seconds: float, connections: int) -> Capacity:
    """wrk (one thread, a process of its own) keeps `connections` requests in flight for `seconds`."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-H", "User-Agent: TikTokLive.py/7.0.1"]
    before, started = server.cpu_s(), time.perf_counter()
    done = await asyncio.to_thread(subprocess.run, [*command, server.url + path], capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, server.cpu_s() - before
    figures = parse_wrk(done.stdout)
    answered = figures["requests"] - figures["non_2xx"]  # wrk counts socket errors apart from requests
    return Capacity(answered / wall, max(cpu, 1e-9) / wall)


async def report_capacity(servers: dict[str, Proc | Floor], seconds: float, connections: int, repeats: int) -> None:
    paths = {"direct": f"/webcast/fetch?{QUERY}", "fetch": f"/webcast/fetch?{QUERY}", "floor": "/"}

    async def measure(name: str, server: Proc | Floor) -> Capacity:
        return await saturated(server, paths[name], seconds, connections)

    runs = await in_turns(servers, repeats, measure)
    print(f"capacity: saturated by wrk, {connections} connections, median of {repeats} runs of {seconds:.0f} s each:")
    per_core = {name: statistics.median(run.per_core for run in values) for name, values in runs.items()}
    for name, values in runs.items():
        rate = statistics.median(run.connects_per_s for run in values)
        cores = statistics.median(run.cores for run in values)
        print(f"  {name:<6} {rate:7.0f} connects/s using {cores:4.0%} of a core: {per_core[name]:7.0f} per core, "
              f"CPU per connect {1000 / per_core[name]:.3f} ms  (per core: "
              f"{', '.join(f'{run.per_core:.0f}' for run in values)})")  # fmt: skip
    print(f"  per core, direct carries {per_core['direct'] / per_core['fetch']:.2f}x the connects of fetch "
          f"(= CPU per connect {per_core['direct'] / per_core['fetch']:.2f}x lower)")  # fmt: skip


async def main(
    rate: float, seconds: float, cpu_rate: float, cpu_seconds: float, cpu_repeats: int, capacity_connections: int
) -> None:
    modern, before, canned = emulator("2026-09"), emulator("2026-08"), Floor("--tiktok")
    direct = Proc("serve", "--port", "0", "--upstream", modern.url, env=LIFTED)
    fetching = {**LIFTED, "TTSIGN_CONNECT_STRATEGIES": '["fetch"]', "TTSIGN_SIGNATURES_BY_ENDPOINT": FULL_SIGNATURES}
    fetch = Proc("serve", "--port", "0", "--upstream", before.url, env=fetching)
    fetch_unbound = Proc("serve", "--port", "0", "--upstream", canned.url, env=fetching)  # for the capacity run
    floor = Floor()
    try:
        answer = await warm(direct.url)
        assert answer.headers["x-ttsign-strategy"] == "direct"
        for fetching_server in (fetch, fetch_unbound):
            assert (await warm(fetching_server.url)).headers["x-ttsign-strategy"] == "fetch"
        loop = await paced_load(
            direct.url, lambda _: connect_bytes(direct.url), connections=50, rate=rate, seconds=seconds
        )
        report_loop(loop, rate, seconds)
        opens = await socket_open_ms(answer, 50)
        print(f"  socket open to the emulator (the client's next step): {summary(opens)}")
        servers: dict[str, Proc | Floor] = {"direct": direct, "fetch": fetch, "floor": floor}
        await report_cpu(servers, cpu_rate, cpu_seconds, cpu_repeats)
        servers["fetch"] = fetch_unbound
        await report_capacity(servers, cpu_seconds, capacity_connections, cpu_repeats)
    finally:
        for proc in (direct, fetch, fetch_unbound, modern, before, canned, floor):
            proc.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--cpu-rate", type=float, default=200)
    parser.add_argument("--cpu-seconds", type=float, default=10)
    parser.add_argument("--cpu-repeats", type=int, default=3)
    parser.add_argument("--capacity-connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the capacity runs (make bench-tools)")
    asyncio.run(
        main(args.rate, args.seconds, args.cpu_rate, args.cpu_seconds, args.cpu_repeats, args.capacity_connections)
    )
