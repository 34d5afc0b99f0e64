"""Load: 200 concurrent clients mixing connect and sign_url against two replicas sharing Redis, for 60 s.

Starts `ttsign emulate`, two `ttsign serve` replicas with TTSIGN_REDIS_URL (a database index and key prefix
of their own on 127.0.0.1:6379), and an nginx in front of them (started here in the foreground, stopped by
PID). Load comes from wrk (one thread, 200 connections) in a second process: every other request is a
connect (`GET /webcast/fetch`) and a sign_url (`POST /webcast/sign_url`), both with an API key whose limits
are on but high. Prints throughput, p50/p99, the error count, and each replica's resident memory after
warm-up and after 100,000 requests. Targets: zero errors, p99 < 50 ms, memory growth < 5%.
Usage: .venv/bin/python benchmarks/load.py [--seconds 60] [--connections 200] [--requests 100000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis
from procs import Proc
from sign_url import parse_wrk

from ttsign.service.keys import KeyService
from ttsign.signing import default_profile
from ttsign.store.base import Limits
from ttsign.store.redis import RedisKeyStore, redis_client

REDIS_URL = os.environ.get("TTSIGN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
ROOM = "7390000000000000001"
NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream ttsign {{ server {a}; server {b}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://ttsign;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wrk_script(key: str) -> str:
    ua = default_profile().user_agent
    body = json.dumps(
        {"url": f"https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id={ROOM}", "userAgent": ua}
    )
    connect = f"/webcast/fetch?client=ttlive-python&room_id={ROOM}&platform=web&client_enter=true"
    return f"""
local n = 0
local headers = {{["X-Api-Key"] = "{key}", ["User-Agent"] = "TikTokLive.py/7.0.1"}}
local post_headers = {{["X-Api-Key"] = "{key}", ["User-Agent"] = "TikTokLive.py/7.0.1",
                       ["Content-Type"] = "application/json"}}
request = function()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format("GET", "{connect}", headers, nil)
  end
  return wrk.format("POST", "/webcast/sign_url", post_headers, {json.dumps(body)})
end

statuses = {{}}
response = function(status, headers, body)
  local reason = status
  if status ~= 200 then
    reason = status .. " " .. (string.match(body, '"reason":%s*"([^"]+)"') or "")
  end
  statuses[reason] = (statuses[reason] or 0) + 1
end

local threads = {{}}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for reason, count in pairs(thread:get("statuses")) do
      io.write(string.format("status %s %d\\n", reason, count))
    end
  end
end
"""


async def create_key(prefix: str) -> str:
    store = RedisKeyStore(redis_client(REDIS_URL), prefix=prefix)
    try:
        _, key = await KeyService(store).create("load", Limits(per_minute=10_000_000, per_hour=100_000_000))
        return key
    finally:
        await store.close()


def run_wrk(url: str, script: str, connections: int, seconds: int) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency", "-s", script, url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    statuses = [line.removeprefix("status ") for line in done.stdout.splitlines() if line.startswith("status ")]
    if any(not s.startswith("200 ") for s in statuses):
        print("  answers by status:", ", ".join(sorted(statuses)), file=sys.stderr)
    return parse_wrk(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100_000, help="total before the second memory reading")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is needed (apt-get install {tool}; `make nginx` installs nginx)")
    prefix = f"ttsign-load-{secrets.token_hex(4)}:"
    env = {
        "TTSIGN_REDIS_URL": REDIS_URL,
        "TTSIGN_REDIS_KEY_PREFIX": prefix,
        "TTSIGN_CONTACT_EMAIL": "ops@example.org",
        **(
            {"TTSIGN_REDIS_TIMEOUT_S": os.environ["BENCH_REDIS_TIMEOUT_S"]}
            if "BENCH_REDIS_TIMEOUT_S" in os.environ
            else {}
        ),
    }
    workdir = Path(tempfile.mkdtemp(prefix="ttsign-load-"))
    emulator = Proc("emulate", "--port", "0")
    replicas: list[Proc] = []
    nginx: subprocess.Popen[bytes] | None = None
    try:
        key = asyncio.run(create_key(prefix))
        replicas = [Proc("serve", "--port", "0", "--upstream", emulator.url, env=env) for _ in range(2)]
        port = free_port()
        hosts = [r.url.removeprefix("http://") for r in replicas]
        (workdir / "nginx.conf").write_text(NGINX_CONF.format(dir=workdir, a=hosts[0], b=hosts[1], port=port))
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        nginx = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,
        )
        front = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=front, headers={"X-Api-Key": key}, timeout=10) as http:
            for _ in range(40):
                try:
                    http.get("/healthz").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.25)
            for _ in range(50):  # identities and caches on both replicas
                http.get("/webcast/fetch", params={"room_id": ROOM}).raise_for_status()
        script = workdir / "mix.lua"
        script.write_text(wrk_script(key))
        # Warm up under the same concurrency first: the first burst raises every pool and the allocator's
        # high-water mark once; growth measured after that is what a long-running replica would keep adding.
        run_wrk(front, str(script), args.connections, 15)
        before = [rss_kib(r.popen.pid) for r in replicas]
        main_run = run_wrk(front, str(script), args.connections, args.seconds)
        total, extra_runs = main_run["requests"], 0
        while total < args.requests and extra_runs < 10:
            total += run_wrk(front, str(script), args.connections, 20)["requests"]
            extra_runs += 1
        after = [rss_kib(r.popen.pid) for r in replicas]
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        for proc in replicas:
            proc.stop()
        emulator.stop()
        redis.Redis.from_url(REDIS_URL).delete(*(redis.Redis.from_url(REDIS_URL).keys(prefix + "*") or [b"-"]))
    growth = [(a - b) / b * 100 if b else 0.0 for a, b in zip(after, before, strict=True)]
    figures = {
        **main_run,
        "total_requests_for_memory": total,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "rss_growth_pct": [round(g, 2) for g in growth],
    }
    if args.json:
        print(json.dumps(figures))
        return
    errors = main_run["non_2xx"] + main_run["socket_errors"]
    print(f"{args.connections} clients, connect + sign_url mix, 2 replicas + Redis behind nginx, {args.seconds} s")
    print(
        f"  {main_run['requests_per_s']:,.0f} req/s  p50={main_run.get('p50_ms', 0):.2f} ms  "
        f"p99={main_run.get('p99_ms', 0):.2f} ms  errors={errors:.0f}   (target: 0 errors, p99 < 50 ms)"
    )
    for i, (b, a, g) in enumerate(zip(before, after, growth, strict=True)):
        print(f"  replica {i}: RSS {b / 1024:.1f} MiB -> {a / 1024:.1f} MiB after {total:,.0f} requests ({g:+.2f}%)")


if __name__ == "__main__":
    sys.exit(main())
