"""Have the real TikTokLive 7.0.1 sign a webcast URL through its own ``build_request(sign_url=True)`` path.

That path (TikTokLive/client/web/web_base.py -> web_signer.TikTokSigner.webcast_sign -> EulerApiSdk 0.1.0)
strips X-Bogus/X-Gnarly/msToken, POSTs JSON {url, userAgent, method, type[, payload]} to
{sign}/webcast/sign_url?client=ttlive-other, and swaps in the returned signedUrl and userAgent.

Usage:
    python python_sign_url.py --web http://127.0.0.1:E --sign http://127.0.0.1:S
        [--webcast URL] [--path im/fetch/] [--room-id R] [--method GET] [--type xhr|fetch] [--payload BODY]
        [--api-key KEY] [--user-agent UA] [--send] [--timeout 20]

Prints {"event": "signed", "url": <signed URL>, "user_agent": ..., "method": ..., "tokens": [names in the URL]},
with --send also {"event": "sent", "status": N, "content_type": ...} (the client's own httpx sends it), then the
outcome line as python_client.py: {"event": "outcome", "ok": true} or ok false with the client's error class.
Exit status: 0 ok, 3 client error, 4 timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from driver_cli import emit, loopback_parser, parse_loopback  # the script's directory is first on sys.path
from python_client import build_client

TOKEN_NAMES = ("msToken", "X-Bogus", "X-Gnarly", "_signature")


async def sign(args: argparse.Namespace) -> dict[str, Any]:
    from TikTokLive.client.web.web_settings import WebDefaults

    client = build_client(args)
    web = client.web
    if args.user_agent:
        # What a user does to pick a browser: the URL's browser_* params stay the random preset's, and the sign
        # server has to make them agree with this UA.
        web.headers["User-Agent"] = args.user_agent
    try:
        request = await web.build_request(
            url=f"{WebDefaults.tiktok_webcast_url}/{args.path.lstrip('/')}",
            method=args.method,
            extra_params={"room_id": args.room_id} if args.room_id else None,
            sign_url=True,
            sign_url_type=args.type,
            sign_url_payload=args.payload,
        )
        url = str(request.url)
        names = {key for key, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
        emit(
            {
                "event": "signed",
                "url": url,
                "user_agent": request.headers.get("User-Agent", ""),
                "method": request.method,
                "tokens": [name for name in TOKEN_NAMES if name in names],
            }
        )
        if args.send:
            response = await web.httpx_client.send(request)
            emit(
                {"event": "sent", "status": response.status_code, "content_type": response.headers.get("content-type")}
            )
        return {"event": "outcome", "ok": True}
    finally:
        await web.close()


async def run(args: argparse.Namespace) -> int:
    try:
        outcome = await asyncio.wait_for(sign(args), args.timeout)
    except TimeoutError:
        emit({"event": "outcome", "ok": False, "error": "Timeout", "message": f"no end within {args.timeout}s"})
        return 4
    except Exception as exc:  # the client's own error class is the result of a negative test
        emit({"event": "outcome", "ok": False, "error": type(exc).__name__, "message": str(exc)[:500]})
        return 3
    emit(outcome)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = loopback_parser(__doc__, timeout_s=20)
    parser.add_argument("--path", default="im/fetch/", help="webcast path to sign, relative to .../webcast/")
    parser.add_argument("--room-id", default="7390000000000000001")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--type", default="xhr", choices=("xhr", "fetch"))
    parser.add_argument("--payload", default="")
    parser.add_argument("--user-agent", help="set client.web.headers['User-Agent'] before signing")
    parser.add_argument("--send", action="store_true", help="also send the signed request with the client's httpx")
    return parse_loopback(parser, argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args())))
