"""A test-only stand-in for the legacy ``GET /webcast/sign_url?url=...`` of tiktok-live-connector 1.x.

The emulator's stub-sign mode does not answer this route, and ttsign serve may not yet; this stand-in lets the
real 1.2.3 client run its whole flow now (legacy sign, its own signed im/fetch to the strict emulator, the
WebSocket). It signs with ttsign.signing and replies in the shape of spec sign-api.md §6 /
euler-custom-sign-servers.txt: top-level ``code, message, signedUrl, msToken, X-Bogus, _signature,
browserName, browserVersion, User-Agent``.

The User-Agent is rebuilt from the URL's own ``browser_name``/``browser_version`` params (1.x sends no UA to the
sign server), so the signature and the query agree, as the strict emulator demands.

    python legacy_sign_stub.py   ->  prints {"event": "ready", "service": "legacy-sign-stub", "url": ...}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import socket
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
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
    params = request.query_params
    # Logged by key only (an apiKey value must never show up anywhere).
    REQUESTS.append({"path": request.url.path, "query_keys": sorted(params.keys())})
    url = params.get("url", "")
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


def app() -> Starlette:
    return Starlette(
        routes=[
            Route("/webcast/sign_url", sign_url, methods=["GET"]),
            Route("/webcast/sign_url/", sign_url, methods=["GET"]),
            Route("/__stub/log", requests_log, methods=["GET"]),
        ]
    )


class _Server(uvicorn.Server):
    """Signals are ours: uvicorn's own capture re-raises SIGTERM after shutdown (the exit code would be -15)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app(), log_level="warning", lifespan="off"))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    ready = {"event": "ready", "service": "legacy-sign-stub", "url": f"http://127.0.0.1:{port}", "tls_url": None}

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        print(json.dumps(ready), flush=True)

    announcer = asyncio.create_task(announce())
    await server.serve(sockets=[sock])
    announcer.cancel()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
