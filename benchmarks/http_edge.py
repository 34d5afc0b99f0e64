"""CPU cost per request of the slow-client and size limits (issue 12 items 2 and 6), in-process.

Two pairs, each run alternately in blocks so both sides see the same stretches of this VM's drifting speed,
for a connect-shaped GET and a sign_url-shaped POST with its JSON body:
- the connection: uvicorn's own httptools protocol against GuardedHttpProtocol (head and body deadlines,
  head size cap), the request fed through a stub transport to an app that reads it and answers at once;
- the ASGI edge: InFlightLimit alone against RequestLimits around it (head size, body read whole).
The medians of CPU microseconds (process time, so other processes on the VM count less) per request are printed.
Usage: .venv/bin/python benchmarks/http_edge.py [--requests 5000] [--repeats 9]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop
from starlette.types import Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ttsign.api.http_protocol import ConnectionLimits, guarded_protocol
from ttsign.api.in_flight import InFlightLimit, InFlightSlots
from ttsign.api.request_limits import RequestLimits

CONNECT = (
    b"GET /webcast/fetch?room_id=7390000000000000001&client=ttlive-python HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8080\r\nUser-Agent: TikTokLive.py/7.0.1\r\nAccept: */*\r\n"
    b"Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nX-Api-Key: " + b"k" * 43 + b"\r\n\r\n"
)
SIGN_BODY = b'{"url": "https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id=7390000000000000001"}'
SIGN = (
    b"POST /webcast/sign_url HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: TikTokLive.py/7.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: " + str(len(SIGN_BODY)).encode() + b"\r\n"
    b"X-Api-Key: " + b"k" * 43 + b"\r\n\r\n" + SIGN_BODY
)
HEADERS = [
    (b"host", b"127.0.0.1:8080"),
    (b"user-agent", b"TikTokLive.py/7.0.1"),
    (b"accept", b"*/*"),
    (b"connection", b"keep-alive"),
    (b"x-api-key", b"k" * 43),
]
CONNECT_SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "GET",
    "path": "/webcast/fetch",
    "raw_path": b"/webcast/fetch",
    "query_string": b"room_id=7390000000000000001&client=ttlive-python",
    "headers": HEADERS,
}
SIGN_SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/webcast/sign_url",
    "raw_path": b"/webcast/sign_url",
    "query_string": b"",
    "headers": [*HEADERS, (b"content-type", b"application/json"), (b"content-length", str(len(SIGN_BODY)).encode())],
}


class StubTransport(asyncio.Transport):
    """Swallows writes; resolves `answered` when the response's last byte is written."""

    answered: asyncio.Future[None] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.answered is not None and bytes(data).endswith(b"ok"):
            self.answered.set_result(None)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


async def answer_ok(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] == "POST":  # read the body, as sign_url does
        while (await receive()).get("more_body", False):
            pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def per_request_protocol(protocol_class: type[HttpToolsProtocol], request: bytes, requests: int) -> float:
    config = Config(answer_ok, log_config=None, access_log=False, lifespan="off", proxy_headers=False)
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = StubTransport()
    protocol.connection_made(transport)
    loop = asyncio.get_running_loop()
    started = time.process_time()
    for _ in range(requests):
        transport.answered = loop.create_future()
        protocol.data_received(request)
        await transport.answered
    elapsed = time.process_time() - started
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


async def per_request_edge(app: Any, scope: dict[str, Any], requests: int) -> float:
    body = SIGN_BODY if scope["method"] == "POST" else b""

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        return None

    started = time.process_time()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.process_time() - started) / requests * 1e6


async def main(requests: int, repeats: int) -> None:
    guarded = guarded_protocol(ConnectionLimits(max_head_bytes=16 * 1024, head_timeout_s=10.0, body_timeout_s=10.0))
    queue_only = InFlightLimit(answer_ok, InFlightSlots(32))
    limited = RequestLimits(queue_only, max_header_bytes=16 * 1024, max_body_bytes=64 * 1024)
    for shape, request, scope in (("connect GET", CONNECT, CONNECT_SCOPE), ("sign_url POST", SIGN, SIGN_SCOPE)):
        runs: dict[str, list[float]] = {name: [] for name in ("uvicorn", "guarded", "queue", "limits+queue")}
        for _ in range(repeats):
            runs["uvicorn"].append(await per_request_protocol(HttpToolsProtocol, request, requests))
            runs["guarded"].append(await per_request_protocol(guarded, request, requests))
            runs["queue"].append(await per_request_edge(queue_only, scope, requests * 4))
            runs["limits+queue"].append(await per_request_edge(limited, scope, requests * 4))
        median = {name: statistics.median(values) for name, values in runs.items()}
        print(f"{shape}:")
        connection = f"uvicorn httptools {median['uvicorn']:.2f} us, GuardedHttpProtocol {median['guarded']:.2f} us"
        print(f"  connection: {connection}")
        edge = f"InFlightLimit {median['queue']:.2f} us, RequestLimits + InFlightLimit {median['limits+queue']:.2f} us"
        print(f"  ASGI edge:  {edge}")
        added = median["guarded"] - median["uvicorn"] + median["limits+queue"] - median["queue"]
        print(f"  added per request: {added:.2f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=9)
    arguments = parser.parse_args()
    uvloop.run(main(arguments.requests, arguments.repeats))
