"""Drive the real, unmodified TikTokLive (PyPI 5.0.8) against loopback URLs; one JSON line per event on stdout.

Runs in its own virtual environment (.venv-e2e/tiktoklive-5.0.8, made by scripts/e2e-deps.sh): 5.0.8 needs
pyee 9, httpx < 0.28, websockets 10 and protobuf 4, which conflict with TikTokLive 7.0.1.

Usage (same flags and output as python_client.py):
    python python_client_508.py --web http://127.0.0.1:E --sign http://127.0.0.1:S --unique-id emu_streamer
        [--webcast URL] [--api-key KEY] [--timeout 30] [--no-room-info] [--gift-info]

5.0.8 has its own event names (snake_case strings on a pyee emitter); they are printed under the 7.x names
python_client.py uses, per the table in tests/e2e/expected_legacy.py, plus "native" = the 5.0.8 name.
5.0.8 is configured through module constants in ``TikTokLive.client.config`` (hosts end in "/"):
TIKTOK_URL_WEB, TIKTOK_URL_WEBCAST (".../webcast/") and TIKTOK_SIGN_API (it calls "{TIKTOK_SIGN_API}webcast/fetch/").
Outcome line and exit status as python_client.py: 0 ok, 3 client error, 4 timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from driver_cli import (  # same directory: the script's directory is first on sys.path
    emit,
    loopback_parser,
    parse_loopback,
)

# 5.0.8 event name -> the 7.x-style name python_client.py prints (see expected_legacy.PY508_NATIVE).
EVENT_NAMES = {
    "connect": "Connect",
    "disconnect": "Disconnect",
    "comment": "Comment",
    "gift": "Gift",
    "like": "Like",
    "join": "Join",
    "follow": "Follow",
    "share": "Share",
    "more_share": "Share",
    "viewer_update": "RoomUserSeq",
    "live_end": "LiveEnd",
    "unknown": "Unknown",
}


def describe(native: str, event: Any) -> dict[str, Any]:
    """The mapped event name plus the fields tests match on; ids as strings like the other drivers."""
    name = EVENT_NAMES[native]
    out: dict[str, Any] = {"event": name, "native": native}
    raw = getattr(event, "raw_data", None) or {}
    # 5.0.8 decodes with MessageToDict, so the common block's msg_id arrives as "msgId" (a string) when present.
    msg_id = (raw.get("common") or {}).get("msgId") if isinstance(raw, dict) else None
    if msg_id:
        out["msg_id"] = str(msg_id)
    user = getattr(event, "user", None)
    if user is not None and getattr(user, "unique_id", None):
        out["user"] = user.unique_id
    if name == "Comment":
        out["content"] = event.comment
    elif name == "Gift" and event.gift is not None:
        out.update(gift_id=str(event.gift.id), repeat_count=event.gift.count, repeat_end=bool(event.gift.repeat_end))
    elif name == "Like":
        out.update(count=event.likes, total=event.total_likes)
    elif name == "RoomUserSeq":
        out["total"] = event.viewer_count
    elif name == "Join" and event.total_viewers is not None:
        out["member_count"] = event.total_viewers
    elif name == "Unknown":
        out["method"] = event.type or ""
    return out


def configure(args: argparse.Namespace) -> None:
    # Module constants read on every request (config.X at call time), so patching before start() is enough.
    from TikTokLive.client import config

    config.TIKTOK_URL_WEB = args.web.rstrip("/") + "/"
    config.TIKTOK_URL_WEBCAST = (args.webcast or args.web).rstrip("/") + "/webcast/"
    config.TIKTOK_SIGN_API = args.sign.rstrip("/") + "/"


def build_client(args: argparse.Namespace) -> Any:
    from TikTokLive import TikTokLiveClient

    configure(args)
    return TikTokLiveClient(
        args.unique_id,
        sign_api_key=args.api_key,
        fetch_room_info_on_connect=args.room_info,
        enable_detailed_gifts=args.gift_info,
        http_timeout=min(10.0, args.timeout),
    )


def _listener(native: str) -> Any:
    def on_event(event: Any) -> None:
        emit(describe(native, event))

    return on_event


EXPECTED_VERSION = "5.0.8"


async def run(args: argparse.Namespace) -> int:
    from importlib.metadata import version

    if version("TikTokLive") != EXPECTED_VERSION:
        emit({"event": "outcome", "ok": False, "error": "WrongVersion", "message": version("TikTokLive")})
        return 3
    client = build_client(args)
    for native in EVENT_NAMES:
        client.add_listener(native, _listener(native))
    deadline = asyncio.get_running_loop().time() + args.timeout
    try:
        # start() returns once the WebSocket task exists; the session runs in client._ws_connection_task.
        await asyncio.wait_for(client.start(), args.timeout)
        task = client._ws_connection_task  # 5.0.8 has no public handle on the session
        await asyncio.wait_for(task, max(0.1, deadline - asyncio.get_running_loop().time()))
    except TimeoutError:
        emit({"event": "outcome", "ok": False, "error": "Timeout", "message": f"no end within {args.timeout}s"})
        _quiet_stop(client)
        return 4
    except (Exception, asyncio.CancelledError) as exc:
        # 5.0.8 turns websockets.ConnectionClosed into CancelledError inside its session task.
        emit({"event": "outcome", "ok": False, "error": type(exc).__name__, "message": str(exc)[:500]})
        _quiet_stop(client)
        return 3
    emit({"event": "outcome", "ok": True})
    return 0


def _quiet_stop(client: Any) -> None:
    task = getattr(client, "_ws_connection_task", None)
    if task is not None and not task.done():
        task.cancel()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = loopback_parser(__doc__, timeout_s=30)
    # 5.0.8 fetches room info by default (fetch_room_info_on_connect=True); --room-info is accepted for parity.
    parser.add_argument("--room-info", dest="room_info", action="store_true", default=True, help="(default)")
    parser.add_argument(
        "--no-room-info", dest="room_info", action="store_false", help="skip GET webcast/room/info/ before connecting"
    )
    parser.add_argument("--gift-info", action="store_true", help="also fetch the gift list (enable_detailed_gifts)")
    return parse_loopback(parser, argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args())))
