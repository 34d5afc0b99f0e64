"""POST /webcast/sign_url throughput and latency: API key and rate limiting on, two uvicorn workers.

Starts `ttsign emulate` (for the identity's msToken) and `ttsign serve --workers 2`, creates an API key
in the server's store (limits on, set high enough not to refuse), warms up, then drives load from a
second process on loopback with wrk (`apt-get install wrk`) and prints requests/s, latency percentiles
and the error count. Target: >= 3,000 signed URLs/s and p99 < 20 ms on the 2-core machine.
Usage: .venv/bin/python benchmarks/sign_url.py [--seconds 15] [--connections 16] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from procs import BENCH_ENV, Proc

from ttsign.service.keys import KeyService
from ttsign.signing import default_profile
from ttsign.store.base import Limits
from ttsign.store.sqlite import SqliteKeyStore

GIFT_LIST = "https://webcast.tiktok.com/webcast/gift/list/?aid=1988&app_name=tiktok_web&room_id=7390000000000000001"


async def create_key(store_path: str) -> str:
    store = SqliteKeyStore(Path(store_path))
    try:
        # Every window set: one the key leaves out follows the server's default (20,000 a day).
        unlimited = Limits(per_minute=10_000_000, per_hour=100_000_000, per_day=1_000_000_000)
        _, key = await KeyService(store).create("bench", unlimited)
        return key
    finally:
        await store.close()


def wrk_script(key: str) -> str:
    body = json.dumps({"url": GIFT_LIST, "userAgent": default_profile().user_agent, "method": "GET"})
    return "\n".join(
        [
            'wrk.method = "POST"',
            f"wrk.body = {json.dumps(body)}",
            'wrk.headers["Content-Type"] = "application/json"',
            f'wrk.headers["X-Api-Key"] = "{key}"',
            'wrk.headers["User-Agent"] = "TikTokLive.py/7.0.1"',
        ]
    )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(text: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for pct in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if match:
            figures[f"p{pct}_ms"] = float(match.group(1)) * _UNITS[match.group(2)]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    figures["requests_per_s"] = float(rps.group(1)) if rps else 0.0
    figures["requests"] = float(total.group(1)) if total else 0.0
    figures["non_2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    figures["socket_errors"] = float(sum(int(g) for g in errors.groups())) if errors else 0.0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the load (apt-get install wrk)")
    emulator = Proc("emulate", "--port", "0")
    try:
        key = asyncio.run(create_key(BENCH_ENV["TTSIGN_STORE_PATH"]))
        server = Proc("serve", "--port", "0", "--workers", str(args.workers), "--upstream", emulator.url)
        try:
            with httpx.Client(base_url=server.url, headers={"X-Api-Key": key}, timeout=10) as http:
                for _ in range(50):  # warm both workers' identities and caches
                    reply = http.post("/webcast/sign_url", json={"url": GIFT_LIST})
                    reply.raise_for_status()
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(wrk_script(key))
            command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "-s", script.name]
            done = subprocess.run(
                [*command, f"{server.url}/webcast/sign_url"], capture_output=True, text=True, check=True
            )
        finally:
            server.stop()
    finally:
        emulator.stop()
    figures = parse_wrk(done.stdout)
    figures.update(connections=args.connections, seconds=args.seconds, workers=args.workers)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"POST /webcast/sign_url, {args.workers} workers, API key + limits on, {args.connections} connections")
    print(
        f"  {figures['requests_per_s']:,.0f} signed URLs/s  p50={figures.get('p50_ms', 0):.2f} ms  "
        f"p99={figures.get('p99_ms', 0):.2f} ms  non-2xx={figures['non_2xx']:.0f}  "
        f"socket errors={figures['socket_errors']:.0f}   (target: >= 3,000/s, p99 < 20 ms)"
    )


if __name__ == "__main__":
    sys.exit(main())
