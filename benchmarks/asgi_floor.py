"""The HTTP floor under a connect: a trivial ASGI app served as `ttsign serve` serves (its uvicorn settings,
its head and body limits, uvloop), answering every request with a direct connect's answer (the headers and
a protobuf body of the same size), at once. What it costs per request is what no connect strategy can go
below on this stack; benchmarks/connect_direct.py sets it beside direct and fetch.

With `--tiktok` it is instead the fastest TikTok a fetch connect can have: every page mints a ttwid and
every im/fetch is answered at once with a small fetch result, so a benchmark can saturate ttsign's fetch
strategy, which the emulator (strict, and sharing the machine's cores) would otherwise hold back.

Prints the same ready line as `ttsign serve` on stdout, serves until SIGTERM (uvicorn's handler).
Usage: python benchmarks/asgi_floor.py [--tiktok]
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
import uvloop
from starlette.types import Receive, Scope, Send

from ttsign.api.server import bind_socket, ready_line, server_config
from ttsign.config import Settings
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult

BODY = b"\x08" * 640  # a direct answer's synthesized fetch result is about this size
HEADERS = [
    (b"content-type", b"application/x-protobuf"),
    (b"content-length", str(len(BODY)).encode()),
    (b"x-set-tt-cookie", b"ttwid=1%7C" + b"a" * 120),
    (b"x-room-id", b"7390000000000000001"),
    (b"x-request-id", b"0123456789abcdef0123456789abcdef"),
    (b"x-ttsign-strategy", b"direct"),
    (b"x-set-tt-user-agent", b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.0.0"),
]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def _fetch_result() -> bytes:
    result = ProtoMessageFetchResult(cursor="1", push_server="ws://127.0.0.1:1/webcast/im/push/", now=1)
    result.route_params["room_id"] = "7390000000000000001"
    return result.SerializeToString()


FETCH_RESULT = _fetch_result()
PAGE_HEAD = [(b"content-type", b"text/html"), (b"set-cookie", b"ttwid=1%7Ccanned%7C1; Path=/; Domain=127.0.0.1")]


async def tiktok(scope: Scope, receive: Receive, send: Send) -> None:
    """Cookie pages mint a ttwid; im/fetch answers a fetch result; nothing is checked."""
    if scope["type"] == "lifespan":
        await app(scope, receive, send)
        return
    if scope["path"].startswith("/webcast/im/fetch"):
        head, body = [(b"content-type", b"application/protobuf")], FETCH_RESULT
    else:
        head, body = PAGE_HEAD, b"<!doctype html><title>TikTok</title>"
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": body})


async def main() -> None:
    settings = Settings()
    sock = bind_socket("127.0.0.1", 0)
    served = tiktok if "--tiktok" in sys.argv[1:] else app
    server = uvicorn.Server(server_config(served, settings))  # type: ignore[arg-type]  # any ASGI app serves
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.005)
    print(ready_line(sock), flush=True)
    await serving


if __name__ == "__main__":
    uvloop.run(main())
