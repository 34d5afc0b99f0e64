"""Load: 200 concurrent clients mixing connect and sign_url against two replicas sharing Redis, for 60 s.

Starts `ttsign emulate`, two `ttsign serve` replicas with TTSIGN_REDIS_URL (a database index and key prefix
of their own on 127.0.0.1:6379), and an nginx in front of them (started here in the foreground, stopped by
PID). Every other request is a connect (`GET /webcast/fetch`) and a sign_url (`POST /webcast/sign_url`),
both with an API key whose limits are on but high. Two runs of `--seconds` each, 200 connections:

  capacity  closed loop (wrk, one thread): each client sends its next request as soon as it has an answer,
            so the servers are saturated and latency is 200 / throughput (Little's law), whatever they do
  paced     open loop (paced.py): `--rate` requests per second in all, on a fixed schedule over the 200
            connections, latency counted from when each request was due (clients that connect now and
            then, as real ones do; the rate is stated with the figures). `--rate 500,800,1000` runs
            one paced run per rate, in that order, to find where p99 passes the target.

then more closed-loop load until `--requests` in all, reading each replica's resident memory after every
run. Targets: zero errors, p99 < 50 ms, memory growth < 5% over 100,000 requests.
Usage: .venv/bin/python benchmarks/load.py [--seconds 60] [--connections 200] [--rate 500[,R2,...]]
       [--requests 100000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from paced import PacedResult, RequestBytes, paced_load
from procs import Proc, cpu_seconds
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
    upstream ttsign {{ server {a}; server {b}; keepalive 512; }}
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


def cpu_owners(replicas: list[Proc], emulator: Proc, nginx: subprocess.Popen[bytes]) -> dict[str, list[int]]:
    """The processes sharing the cores during a run, by role (nginx: master and workers; Redis: the server)."""
    found = subprocess.run(["pgrep", "-P", str(nginx.pid)], check=False, capture_output=True, text=True)
    children = found.stdout.split()  # pgrep exits 1 when there are none
    redis_pid = int(redis.Redis.from_url(REDIS_URL).info("server")["process_id"])
    return {
        "replicas": [r.popen.pid for r in replicas],
        "emulator": [emulator.popen.pid],
        "nginx": [nginx.pid, *(int(pid) for pid in children)],
        "redis": [redis_pid],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


CONNECT_TARGET = f"/webcast/fetch?client=ttlive-python&room_id={ROOM}&platform=web&client_enter=true"
CLIENT_UA = "TikTokLive.py/7.0.1"


def sign_url_body() -> str:
    ua = default_profile().user_agent
    return json.dumps(
        {"url": f"https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id={ROOM}", "userAgent": ua}
    )


def request_bytes(key: str, host: str) -> RequestBytes:
    """The same mix as the wrk script, as raw HTTP/1.1 for the paced client."""
    head = f"Host: {host}\r\nX-Api-Key: {key}\r\nUser-Agent: {CLIENT_UA}\r\n"
    connect = f"GET {CONNECT_TARGET} HTTP/1.1\r\n{head}\r\n".encode()
    body = sign_url_body().encode()
    sign = (
        f"POST /webcast/sign_url HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return lambda i: connect if i % 2 == 0 else sign


def wrk_script(key: str, *, connect_every: int = 2) -> str:
    """The mix (`connect_every` 2: every other request a connect; 1: connects only)."""
    body = sign_url_body()
    connect = CONNECT_TARGET
    return f"""
local n = 0
local headers = {{["X-Api-Key"] = "{key}", ["User-Agent"] = "{CLIENT_UA}"}}
local post_headers = {{["X-Api-Key"] = "{key}", ["User-Agent"] = "{CLIENT_UA}",
                       ["Content-Type"] = "application/json"}}
request = function()
  n = n + 1
  if n % {connect_every} == 0 then
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
        # Every window set: one the key leaves out follows the server's default (20,000 a day).
        unlimited = Limits(per_minute=10_000_000, per_hour=100_000_000, per_day=1_000_000_000)
        _, key = await KeyService(store).create("load", unlimited)
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
    parser.add_argument(
        "--rate",
        type=rates,
        default=[500.0],
        help="requests/s in all for the paced run (comma-separated: one run each)",
    )
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
        # Warm up under the same concurrency first: a replica's memory follows its peak concurrency, not its
        # request count (each upstream curl handle ~170 KiB, at most max_in_flight of them; each client
        # connection ~10 KiB), so every pool is raised to its bound before the first reading: the mix, then
        # connects only, which puts all of a replica's in-flight slots on the upstream at once. Growth after
        # that is what a long-running replica would keep adding.
        run_wrk(front, str(script), args.connections, 15)
        connects_only = workdir / "connects.lua"
        connects_only.write_text(wrk_script(key, connect_every=1))
        run_wrk(front, str(connects_only), args.connections, 10)
        before = [rss_kib(r.popen.pid) for r in replicas]
        processes = cpu_owners(replicas, emulator, nginx)
        cpu_before = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in processes.items()}
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        capacity = run_wrk(front, str(script), args.connections, args.seconds)
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = capacity["requests"]
        cpu_ms = {
            name: (sum(cpu_seconds(pid) for pid in pids) - cpu_before[name]) / total * 1000
            for name, pids in processes.items()
        }
        cpu_ms["wrk"] = (
            (wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime) / total * 1000
        )
        memory = [(total, [rss_kib(r.popen.pid) for r in replicas])]
        paced: list[dict[str, object]] = []
        for rate in args.rate:
            result = asyncio.run(
                paced_load(
                    front,
                    request_bytes(key, f"127.0.0.1:{port}"),
                    connections=args.connections,
                    rate=rate,
                    seconds=args.seconds,
                )
            )
            paced.append(paced_figures(result, rate))
            total += len(result.latencies_ms)
            memory.append((total, [rss_kib(r.popen.pid) for r in replicas]))
        extra_runs = 0
        while total < args.requests and extra_runs < 10:
            total += run_wrk(front, str(script), args.connections, 20)["requests"]
            memory.append((total, [rss_kib(r.popen.pid) for r in replicas]))
            extra_runs += 1
        after = memory[-1][1]
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
        "capacity": capacity,
        "capacity_cpu_ms_per_request": cpu_ms,
        "paced": paced,
        "total_requests_for_memory": total,
        "rss_before_kib": before,
        "rss_kib_by_requests": memory,
        "rss_growth_pct": [round(g, 2) for g in growth],
    }
    if args.json:
        print(json.dumps(figures))
        return
    report(args, figures)


def rates(text: str) -> list[float]:
    """`--rate`: one rate or a comma-separated list, each above zero."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate or a list of rates: {text!r}") from None
    if min(values) <= 0:
        raise argparse.ArgumentTypeError("rates must be above zero")
    return values


def paced_figures(result: PacedResult, rate: float) -> dict[str, object]:
    return {
        "offered_per_s": rate,
        "requests": len(result.latencies_ms),
        "requests_per_s": len(result.latencies_ms) / result.elapsed_s if result.elapsed_s else 0.0,
        "p50_ms": result.pct(50),
        "p99_ms": result.pct(99),
        "max_ms": result.pct(100),
        "errors": result.errors,
        "statuses": dict(result.statuses),
    }


def report(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    capacity = figures["capacity"]
    print(f"{args.connections} clients, connect + sign_url mix, 2 replicas + Redis behind nginx, {args.seconds} s each")
    errors = capacity["non_2xx"] + capacity["socket_errors"]
    print(
        f"  capacity (closed loop): {capacity['requests_per_s']:,.0f} req/s  p50={capacity.get('p50_ms', 0):.2f} ms  "
        f"p99={capacity.get('p99_ms', 0):.2f} ms  errors={errors:.0f}"
    )
    for paced in figures["paced"]:
        print(
            f"  paced at {paced['offered_per_s']:g} req/s (open loop): {paced['requests_per_s']:,.0f} req/s  "
            f"p50={paced['p50_ms']:.2f} ms  p99={paced['p99_ms']:.2f} ms  max={paced['max_ms']:.2f} ms  "
            f"errors={paced['errors']}   (target: 0 errors, p99 < 50 ms)"
        )
        if paced["errors"]:
            print(f"  paced answers by status: {paced['statuses']}")
    cpu = figures["capacity_cpu_ms_per_request"]
    print(
        "  CPU per request in the capacity run (ms): "
        + ", ".join(f"{name} {ms:.3f}" for name, ms in cpu.items())
        + f"; {sum(cpu.values()):.3f} in all ({os.cpu_count()} cores)"
    )
    readings = figures["rss_kib_by_requests"]
    for i, before in enumerate(figures["rss_before_kib"]):
        trail = " -> ".join(f"{kib[i] / 1024:.1f}" for _, kib in readings)
        print(
            f"  replica {i}: RSS MiB {before / 1024:.1f} (after warm-up) -> {trail} over {readings[-1][0]:,.0f} "
            f"requests ({figures['rss_growth_pct'][i]:+.2f}%; target < +5%)"
        )


if __name__ == "__main__":
    sys.exit(main())
