"""Call Euler's newer routes through the real EulerApiSdk 0.5.0 (run by .venv-e2e/eulerapisdk-0.5.0/bin/python).

The SDK's own functions build and parse every request: `accounts.get_rate_limits` (GET /accounts/me/rate_limits),
`tik_tok_signing.sign_tik_tok_url` (POST /tiktok/signing/encrypt/sign_url) and
`tik_tok_live_anchors.fetch_webcast_url_by_unique_id` (GET /webcast/anchors/{unique_id}/connect).

Usage:
    python euler_sdk_client.py --sign http://127.0.0.1:S --url URL_TO_SIGN [--unique-id NAME] [--api-key KEY]
        [--user-agent UA] [--ttwid VALUE] [--include-browser-params] [--limit-type WEBCAST] [--timeout 20]

Prints one JSON line per call:
    {"event": "rate_limits", "status": N, "parsed": <SDK model class or null>, "body": <model.to_dict() or null>}
    {"event": "signed", "status": N, "parsed": ..., "code": C, "signed_url": ..., "user_agent": ...,
     "tokens": [names], "cookies": [...]}
    {"event": "connect", "status": N, "content_type": ..., "payload_b64": ..., "set_tt_cookie": ..., "room_id": ...}
then {"event": "outcome", "ok": true}, or ok false with the error class (exit status 3).
"""

from __future__ import annotations

import argparse
import base64
import sys
from typing import Any

from driver_cli import emit  # the script's directory is first on sys.path


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sign", required=True, help="ttsign base URL")
    parser.add_argument("--url", required=True, help="TikTok URL to sign")
    parser.add_argument("--unique-id", default="emu_streamer")
    parser.add_argument("--api-key")
    parser.add_argument("--user-agent")
    parser.add_argument("--ttwid")
    parser.add_argument("--include-browser-params", action="store_true")
    parser.add_argument("--limit-type", default="WEBCAST")
    parser.add_argument("--timeout", type=float, default=20.0)
    return parser.parse_args(argv)


def rate_limits(client: Any, limit_type: str) -> dict[str, Any]:
    from EulerApiSdk.api.accounts import get_rate_limits
    from EulerApiSdk.models.rate_limit_type import RateLimitType

    response = get_rate_limits.sync_detailed(client=client, type_=RateLimitType(limit_type))
    parsed = response.parsed
    return {
        "event": "rate_limits",
        "status": int(response.status_code),
        "parsed": type(parsed).__name__ if parsed is not None else None,
        "body": parsed.to_dict() if parsed is not None else None,
    }


def sign(client: Any, args: argparse.Namespace) -> dict[str, Any]:
    from EulerApiSdk.api.tik_tok_signing import sign_tik_tok_url
    from EulerApiSdk.models.sign_tik_tok_url_body import SignTikTokUrlBody
    from EulerApiSdk.models.sign_tik_tok_url_body_method import SignTikTokUrlBodyMethod
    from EulerApiSdk.models.sign_tik_tok_url_body_type import SignTikTokUrlBodyType
    from EulerApiSdk.types import UNSET

    body = SignTikTokUrlBody(
        url=args.url,
        user_agent=args.user_agent or UNSET,
        method=SignTikTokUrlBodyMethod.GET,
        type_=SignTikTokUrlBodyType.FETCH,
        ttwid=args.ttwid or UNSET,
        include_browser_params=args.include_browser_params,
    )
    response = sign_tik_tok_url.sync_detailed(client=client, body=body)
    record: dict[str, Any] = {"event": "signed", "status": int(response.status_code), "parsed": None}
    parsed = response.parsed
    if parsed is None:
        return record
    record["parsed"] = type(parsed).__name__
    record["code"] = parsed.code
    result = getattr(parsed, "response", UNSET)
    if result is not UNSET:
        record["signed_url"] = result.signed_url
        record["user_agent"] = result.user_agent
        record["tokens"] = sorted(result.tokens.to_dict()) if result.tokens is not UNSET else []
        record["cookies"] = [cookie.to_dict() for cookie in result.cookies] if result.cookies is not UNSET else []
    return record


def connect(client: Any, args: argparse.Namespace) -> dict[str, Any]:
    from EulerApiSdk.api.tik_tok_live_anchors import fetch_webcast_url_by_unique_id
    from EulerApiSdk.models.webcast_fetch_platform import WebcastFetchPlatform
    from EulerApiSdk.types import UNSET

    response = fetch_webcast_url_by_unique_id.sync_detailed(
        args.unique_id, client=client, user_agent=args.user_agent or UNSET, platform=WebcastFetchPlatform.WEB
    )
    return {
        "event": "connect",
        "status": int(response.status_code),
        "content_type": response.headers.get("content-type"),
        "payload_b64": base64.b64encode(response.content).decode(),
        "set_tt_cookie": response.headers.get("x-set-tt-cookie"),
        "room_id": response.headers.get("x-room-id"),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import httpx
    from EulerApiSdk import AuthenticatedClient, Client

    # The SDK has no timeout by default: a hang must end the run, not the test's own deadline.
    options: dict[str, Any] = {"base_url": args.sign, "timeout": httpx.Timeout(args.timeout)}
    client = AuthenticatedClient(token=args.api_key, **options) if args.api_key else Client(**options)
    try:
        with client:
            emit(rate_limits(client, args.limit_type))
            emit(sign(client, args))
            emit(connect(client, args))
    except Exception as exc:  # the SDK's own error class is the result of a negative test
        emit({"event": "outcome", "ok": False, "error": type(exc).__name__, "message": str(exc)[:500]})
        return 3
    emit({"event": "outcome", "ok": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
