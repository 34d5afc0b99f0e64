"""A test-only sign-server stand-in for what the emulator's stub-sign mode does not cover.

1. Legacy ``GET /webcast/sign_url?url=...`` of tiktok-live-connector 1.x (the stub has no such route): lets the
   real 1.2.3 client run its whole flow (legacy sign, its own signed im/fetch to the strict emulator, the
   WebSocket). It signs with ttsign.signing and replies in the shape of spec sign-api.md §6 /
   euler-custom-sign-servers.txt: top-level ``code, message, signedUrl, msToken, X-Bogus, _signature,
   browserName, browserVersion, User-Agent``. The User-Agent is rebuilt from the URL's own
   ``browser_name``/``browser_version`` params (1.x sends no UA to the sign server), so signature and query agree.
2. ``--reply '{"status": 429, "body": {...}, "headers": {...}}'``: every sign-server route of every client
   (fetch, rooms/{id}/connect, sign_url in all forms, legacy sign_url) answers with exactly that, so the tests
   can show how each real client reacts to an error shape (spec §8) before ttsign serve produces it.

    python sign_stand_in.py [--reply JSON]  ->  {"event": "ready", "service": "sign-stand-in", "url": ...}
GET /__stub/log lists the requests seen (path and query keys only: key values never leave the process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ttsign.signing import (
    BrowserProfile,
    ProfileError,
    default_profile,
    generate_ms_token,
    profile_from_user_agent,
    sign_request,
)

REQUESTS: list[dict[str, object]] = []
SIGN_ROUTES = (
    ("/webcast/fetch", "GET"),
    ("/webcast/fetch/", "GET"),
    ("/webcast/rooms/{room_id}/connect", "GET"),
    ("/webcast/sign_url", "POST"),
    ("/webcast/sign_url/", "POST"),
    ("/tiktok/sign_url", "POST"),
    ("/webcast/room_id", "GET"),
    ("/webcast/anchors/{unique_id}/room_id", "GET"),
)


def record(request: Request) -> None:
    # Logged by key only (an apiKey value must never show up anywhere).
    REQUESTS.append(
        {"method": request.method, "path": request.url.path, "query_keys": sorted(request.query_params.keys())}
    )


def profile_for(url: str) -> BrowserProfile:
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    name, version = query.get("browser_name", ""), query.get("browser_version", "")
    if name and version:
        try:
            return profile_from_user_agent(f"{name}/{version}")
        except ProfileError:
            pass
    return default_profile()


async def sign_url(request: Request) -> JSONResponse:
    record(request)
    url = request.query_params.get("url", "")
    if not url.startswith(("http://", "https://")):
        return JSONResponse({"code": 400, "message": "query needs a 'url' to sign"}, status_code=400)
    rng = random.Random()
    profile = profile_for(url)
    signed = sign_request(
        "GET",
        url,
        "",
        profile,
        now_ms=int(time.time() * 1000),
        rng=rng,
        ms_token=generate_ms_token(rng),
        legacy_signature=True,
    )
    return JSONResponse(
        {
            "code": 200,
            "message": "ok",
            "signedUrl": signed.url,
            "msToken": signed.tokens["msToken"],
            "X-Bogus": signed.tokens["X-Bogus"],
            "_signature": signed.tokens.get("_signature", ""),
            "browserName": profile.browser_name,
            "browserVersion": profile.browser_version,
            "User-Agent": profile.user_agent,
        }
    )


async def requests_log(request: Request) -> JSONResponse:
    return JSONResponse(REQUESTS)


def canned(reply: dict[str, Any]) -> Any:
    body = json.dumps(reply.get("body", {})).encode()
    headers = {str(k): str(v) for k, v in reply.get("headers", {}).items()}

    async def answer(request: Request) -> Response:
        record(request)
        return Response(body, status_code=int(reply["status"]), headers=headers, media_type="application/json")

    return answer


def app(reply: dict[str, Any] | None) -> Starlette:
    legacy = canned(reply) if reply else sign_url
    routes = [
        Route("/webcast/sign_url", legacy, methods=["GET"]),
        Route("/webcast/sign_url/", legacy, methods=["GET"]),
        Route("/__stub/log", requests_log, methods=["GET"]),
    ]
    if reply:
        routes = [Route(path, canned(reply), methods=[method]) for path, method in SIGN_ROUTES] + routes
    return Starlette(routes=routes)


class _Server(uvicorn.Server):
    """Signals are ours: uvicorn's own capture re-raises SIGTERM after shutdown (the exit code would be -15)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def main(reply: dict[str, Any] | None) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app(reply), log_level="warning", lifespan="off"))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    ready = {"event": "ready", "service": "sign-stand-in", "url": f"http://127.0.0.1:{port}", "tls_url": None}

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        print(json.dumps(ready), flush=True)

    announcer = asyncio.create_task(announce())
    await server.serve(sockets=[sock])
    announcer.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="test-only sign-server stand-in")
    parser.add_argument("--reply", type=json.loads, default=None, help='{"status": N, "body": {...}, "headers": {...}}')
    asyncio.run(main(parser.parse_args().reply))
    sys.exit(0)
