"""The operator console's load times with 1,000 keys and 30 days of usage (issue 15: under 300 ms).

Seeds a SQLite key store with 1,000 keys and its usage file with 30 days of hourly counts for every key
(requests, connects, signatures, one refusal reason, one room an hour), plus the last 2 hours per minute, all
through the stores' own interfaces; starts `ttsign serve` on it with an admin secret; logs in; then times
each console request (the page, its assets and every JSON route) from a client process on loopback, and,
when Debian's Chromium is there, the whole page in a real browser: from navigation to the 1,000-row key table,
and from a click on a key to both of its charts drawn.
Usage: .venv/bin/python benchmarks/admin.py [--keys 1000] [--days 30] [--rounds 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx
from procs import BENCH_ENV, Proc

from ttsign.service.keys import KeyService
from ttsign.store.sqlite import SqliteKeyStore
from ttsign.store.usage import HOUR_S, MINUTE_S, UsageBatch
from ttsign.store.usage_sqlite import SqliteUsageStore, usage_path

SECRET = "benchmark-admin-secret-0123456789abcdef"
CHROMIUM = Path("/usr/bin/chromium")
COUNTERS = {"requests": 40, "connects": 6, "signatures": 20, "refused:rate_limited": 2}
TARGET_MS = 300.0


async def seed(store_path: Path, keys: int, days: int) -> tuple[list[str], float]:
    """`keys` keys with `days` days of full hourly usage each; returns their ids and the seconds it took."""
    started = time.perf_counter()
    store = SqliteKeyStore(store_path)
    service = KeyService(store)
    key_ids = [(await service.create(f"key-{n:04d}"))[0].key_id for n in range(keys)]
    await store.close()
    usage = SqliteUsageStore(usage_path(store_path))
    now = int(time.time())
    hour = now - now % HOUR_S
    for chunk in range(0, keys, 50):  # one flush-sized batch per 50 keys
        batch = UsageBatch()
        for key_id in key_ids[chunk : chunk + 50]:
            subject = f"key:{key_id}"
            for h in range(days * 24):
                start = hour - h * HOUR_S
                for counter, n in COUNTERS.items():
                    batch.minutes[(subject, counter, start)] += n
                batch.rooms[(subject, f"73900000000{h % 97:08d}", start)] += 6
            for m in range(1, 120):  # the last 2 hours per minute too
                batch.minutes[(subject, "requests", now - now % MINUTE_S - m * MINUTE_S)] += 1
        await usage.add(batch)
    await usage.prune(now)  # the hourly seed wrote minute rows older than 2 hours: the store forgets them
    await usage.close()
    return key_ids, time.perf_counter() - started


def timings(http: httpx.Client, server: Proc, path: str, rounds: int) -> dict[str, float]:
    """Wall time per request (one warm-up first), and the server's CPU per request, which contention for
    the 2 cores does not inflate as much."""
    http.get(path).raise_for_status()
    samples = []
    size = 0
    cpu_before = server.cpu_s()
    for _ in range(rounds):
        started = time.perf_counter()
        response = http.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = response.num_bytes_downloaded  # on the wire (the key list is gzipped)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 1),
        "max_ms": round(samples[-1], 1),
        "server_cpu_ms": round((server.cpu_s() - cpu_before) * 1000 / rounds, 1),
        "bytes": size,
    }


def browser_load(url: str, key_id: str, len_keys: int) -> dict[str, float]:
    """Navigation to the key table (its first page of 100, counting all 1,000), and a click on a key to both
    charts drawn, in Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"{url}/admin", wait_until="load")
            page.fill("#secret", SECRET)
            page.click("#login-button")
            page.wait_for_selector("#key-table tbody tr >> nth=99", timeout=30_000)
            results: dict[str, list[float]] = {"page_to_key_table_ms": [], "key_click_to_charts_ms": []}
            for _ in range(5):
                started = time.perf_counter()
                page.reload(wait_until="load")
                page.wait_for_selector("#key-table tbody tr >> nth=99", timeout=30_000)
                assert page.locator("#key-count").inner_text().endswith(f"of {len_keys}")
                results["page_to_key_table_ms"].append((time.perf_counter() - started) * 1000)
                page.evaluate("document.getElementById('legend-hour').textContent = ''")
                started = time.perf_counter()
                page.click(f"#key-table tr[data-key-id='{key_id}']")
                page.wait_for_selector("#legend-hour [data-counter='requests']", timeout=30_000)
                results["key_click_to_charts_ms"].append((time.perf_counter() - started) * 1000)
        finally:
            browser.close()
    return {name: round(statistics.median(values), 1) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    store_path = Path(BENCH_ENV["TTSIGN_STORE_PATH"]).with_name("admin-bench.sqlite3")
    key_ids, seed_s = asyncio.run(seed(store_path, args.keys, args.days))
    env = {"TTSIGN_STORE_PATH": str(store_path), "TTSIGN_ADMIN_SECRET": SECRET, "TTSIGN_ACCESS_LOG": "false"}
    server = Proc("serve", "--host", "127.0.0.1", "--port", "0", "--upstream", "http://127.0.0.1:9", env=env)
    report: dict[str, object] = {"keys": args.keys, "days": args.days, "seed_s": round(seed_s, 1)}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.post("/admin/api/login", json={"secret": SECRET}).raise_for_status()
            paths = {
                "page /admin": "/admin",
                "console.js": "/admin/assets/console.js",
                "console.css": "/admin/assets/console.css",
                "api/session": "/admin/api/session",
                "api/keys (1,000 keys, today's usage)": "/admin/api/keys",
                "api/keys/{id}/usage (2 h by minute, 30 d by hour, top rooms)": f"/admin/api/keys/{key_ids[0]}/usage",
                "api/live": "/admin/api/live",
            }
            report["requests"] = {name: timings(http, server, path, args.rounds) for name, path in paths.items()}
        if CHROMIUM.exists():
            report["browser"] = browser_load(server.url, key_ids[-1], len(key_ids))  # newest: on the first page
    finally:
        server.stop()
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    print(f"{args.keys} keys, {args.days} days of hourly usage each (seeded in {report['seed_s']} s)")
    for name, figures in report["requests"].items():  # type: ignore[attr-defined]
        print(
            f"  {name:<66} median {figures['median_ms']:>7} ms  p95 {figures['p95_ms']:>7} ms  "
            f"max {figures['max_ms']:>7} ms  server CPU {figures['server_cpu_ms']:>6} ms  {figures['bytes']:>7} bytes"
        )
    for name, value in dict(report.get("browser", {})).items():  # type: ignore[call-overload]
        print(f"  Chromium: {name:<54} median {value:>7} ms")
    print(f"  target: every figure under {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
