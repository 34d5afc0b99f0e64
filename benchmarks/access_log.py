"""CPU cost of the access line per request: the Observe middleware with `access_log` on and off.

A connect-shaped request (GET /webcast/fetch with a query, a client User-Agent, an answer with the connect
headers, a key id noted by the handler) goes through Observe around a stub app that answers at once, so the
difference between the two runs is the access line alone: record, JSON formatting, masking and the write to
stderr (redirected to a file here, as under systemd or docker). Runs alternate on/off in blocks so both see
the same stretches of this VM's drifting speed; the medians are printed.
Usage: .venv/bin/python benchmarks/access_log.py [--requests 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ttsign import logs
from ttsign.api.observe import Observe
from ttsign.metrics import Metrics

ROUTE = Route("/webcast/fetch", lambda request: None)
HEADERS = [
    (b"host", b"127.0.0.1:8080"),
    (b"user-agent", b"TikTokLive.py/7.0.1"),
    (b"x-api-key", b"k" * 43),
    (b"accept", b"*/*"),
]
ANSWER = [
    (b"content-type", b"application/x-protobuf"),
    (b"x-set-tt-cookie", b"ttwid=1%7Cabc"),
    (b"x-room-id", b"7390000000000000001"),
    (b"x-request-id", b"0123456789abcdef"),
]


async def stub(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = ROUTE
    scope["state"]["key_id"] = "k_0123456789"
    await send({"type": "http.response.start", "status": 200, "headers": ANSWER})
    await send({"type": "http.response.body", "body": b"\x08\x01" * 200})


def connect_scope() -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/webcast/fetch",
        "query_string": b"room_id=7390000000000000001&client=ttlive-python&cursor=&internal_ext=",
        "headers": HEADERS,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    return None


async def cpu_per_request(app: Observe, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        await app(connect_scope(), receive, send)
    return (time.process_time() - started) / requests


async def main(requests: int, repeats: int) -> None:
    metrics = Metrics()
    apps = {"off": Observe(stub, metrics, access_log=False), "on": Observe(stub, metrics, access_log=True)}
    samples: dict[str, list[float]] = {"off": [], "on": []}
    for app in apps.values():
        await cpu_per_request(app, 1000)  # warm the route and series caches
    for _ in range(repeats):
        for name, app in apps.items():
            samples[name].append(await cpu_per_request(app, requests))
    off, on = statistics.median(samples["off"]), statistics.median(samples["on"])
    print(f"Observe, access_log off: {off * 1e6:6.1f} µs CPU per request (median of {repeats})")
    print(f"Observe, access_log on:  {on * 1e6:6.1f} µs CPU per request")
    print(f"the access line costs:   {(on - off) * 1e6:6.1f} µs CPU per request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryFile() as log_file:
        saved = os.dup(2)
        os.dup2(log_file.fileno(), 2)  # the log lines go to a real file, as a service's stderr would
        logs.configure("INFO", "json")
        try:
            asyncio.run(main(args.requests, args.repeats))
        finally:
            os.dup2(saved, 2)
            sys.stderr.flush()
