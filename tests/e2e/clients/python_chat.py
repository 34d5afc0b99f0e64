"""Send one chat message with the real, unmodified TikTokLive 7.0.1 (`send_room_chat`) through a sign server.

Usage:
    WHITELIST_AUTHENTICATED_SESSION_ID_HOST=127.0.0.1:S python python_chat.py --sign http://127.0.0.1:S
        --room-id ID --content TEXT --session-id SID --tt-target-idc IDC [--api-key KEY] [--timeout 20]

TikTokLive sends a session only to a whitelisted sign server: the env var must equal the host:port of
`WebDefaults.tiktok_sign_url` (sign-api.md §9). Prints one JSON line: {"event": "outcome", "ok": true,
"result": <what send_room_chat returned>} or {"event": "outcome", "ok": false, "error": <class>, "message": ...}.
Exit status: 0 ok, 3 client error, 4 timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from driver_cli import emit  # same directory: the script's directory is first on sys.path


async def run(args: argparse.Namespace) -> int:
    from TikTokLive import TikTokLiveClient
    from TikTokLive.client.web.web_settings import WebDefaults

    sign = args.sign.rstrip("/")
    WebDefaults.tiktok_sign_url = sign  # the whitelist is checked against this, not SIGN_API_URL
    signer: dict[str, Any] = {"sign_api_base": sign}
    if args.api_key:
        signer["sign_api_key"] = args.api_key
    client = TikTokLiveClient("emu_streamer", web_kwargs={"signer_kwargs": signer})
    try:
        result = await asyncio.wait_for(
            client.web.send_room_chat(
                content=args.content,
                room_id=int(args.room_id),
                session_id=args.session_id,
                tt_target_idc=args.tt_target_idc,
            ),
            args.timeout,
        )
    except TimeoutError:
        emit({"event": "outcome", "ok": False, "error": "Timeout", "message": f"no answer within {args.timeout}s"})
        return 4
    except Exception as exc:  # the client's own error class is the result of a negative test
        emit({"event": "outcome", "ok": False, "error": type(exc).__name__, "message": str(exc)[:500]})
        return 3
    finally:
        await client.web.close()
    emit({"event": "outcome", "ok": True, "result": result})
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sign", required=True, help="sign server base URL")
    parser.add_argument("--room-id", required=True)
    parser.add_argument("--content", required=True)
    parser.add_argument("--session-id", default="")
    parser.add_argument("--tt-target-idc", default="")
    parser.add_argument("--api-key")
    parser.add_argument("--timeout", type=float, default=20)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args())))
