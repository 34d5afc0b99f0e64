"""CPU cost of usage accounting per request: the Observe middleware with usage off and on, in the same run.

The connect-shaped request of access_log.py (a keyed GET /webcast/fetch answered with the connect headers)
goes through Observe around a stub app, with the access line off so only accounting differs. "on" counts
the request in memory; the flush that writes the counts (every 5 s in the server, off the request path)
is measured apart, per request it carries, into a real SQLite usage file and into Redis when it answers.
Runs alternate off/on in blocks; medians are printed. Target (issue 15): under 20 µs per request.
Usage: .venv/bin/python benchmarks/usage_accounting.py [--requests 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from access_log import cpu_per_request, stub  # the same request and stub app as the access-line benchmark

from ttsign.api.observe import Observe
from ttsign.metrics import Metrics
from ttsign.service.usage import UsageRecorder
from ttsign.store.base import StoreUnavailable
from ttsign.store.redis import redis_client
from ttsign.store.usage import MemoryUsageStore, UsageStore
from ttsign.store.usage_redis import RedisUsageStore
from ttsign.store.usage_sqlite import SqliteUsageStore

CALLERS = 200  # distinct keys the counted requests are spread over, as on a busy server


async def flush_cost(store: UsageStore, requests: int) -> float:
    """CPU per request of flushing `requests` requests' counts (spread over CALLERS keys) in one batch."""
    recorder = UsageRecorder(store)
    for n in range(requests):
        caller = f"key:k{n % CALLERS:04d}"
        recorder.count(caller, "requests")
        recorder.count(caller, "connects", room=str(7390000000000000000 + n % 50))
    started = time.process_time()
    assert await recorder.flush()
    return (time.process_time() - started) / requests


async def main(requests: int, repeats: int) -> None:
    metrics = Metrics()
    apps = {
        "off": Observe(stub, metrics, access_log=False),
        "on": Observe(stub, metrics, access_log=False, usage=UsageRecorder(MemoryUsageStore())),
    }
    samples: dict[str, list[float]] = {"off": [], "on": []}
    for app in apps.values():
        await cpu_per_request(app, 1000)
    for _ in range(repeats):
        for name, app in apps.items():
            samples[name].append(await cpu_per_request(app, requests))
    off, on = statistics.median(samples["off"]), statistics.median(samples["on"])
    print(f"Observe, usage off: {off * 1e6:6.1f} µs CPU per request (median of {repeats} runs of {requests})")
    print(f"Observe, usage on:  {on * 1e6:6.1f} µs CPU per request")
    print(f"counting costs:     {(on - off) * 1e6:6.1f} µs CPU per request on the request path (target < 20)")
    with tempfile.TemporaryDirectory() as folder:
        sqlite = SqliteUsageStore(Path(folder) / "usage.sqlite3")
        cost = statistics.median([await flush_cost(sqlite, requests) for _ in range(3)])
        print(f"flush to SQLite:    {cost * 1e6:6.2f} µs CPU per request, off the request path (event loop side)")
        await sqlite.close()
    client = redis_client("redis://127.0.0.1:6379/13", timeout_s=1)
    try:
        redis = RedisUsageStore(client, prefix="ttsign-bench-usage:")
        cost = statistics.median([await flush_cost(redis, requests) for _ in range(3)])
        print(f"flush to Redis:     {cost * 1e6:6.2f} µs CPU per request, off the request path")
        await client.delete(*[key async for key in client.scan_iter(match="ttsign-bench-usage:*", count=1000)])
    except StoreUnavailable as exc:
        print(f"flush to Redis:     not measured ({exc})")
    finally:
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.repeats))
