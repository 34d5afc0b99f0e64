"""Drive the real, unmodified TikTokLive (PyPI 7.0.1) against loopback URLs; one JSON line per event on stdout.

Usage:
    python python_client.py --web http://127.0.0.1:E --sign http://127.0.0.1:S --unique-id emu_streamer
        [--webcast URL] [--api-key KEY] [--timeout 30] [--room-info] [--gift-info] [--room-id ID] [--no-live-check]

Every event prints {"event": <class name without "Event">, ...fields}. The last line is the outcome:
{"event": "outcome", "ok": true} when the client finished on its own, or
{"event": "outcome", "ok": false, "error": <exception class>, "message": ...} when it raised
(a negative test asserts on the client's own error class), or "error": "Timeout" when it hung.
Exit status: 0 ok, 3 client error, 4 timeout.
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

EVENT_NAMES = (
    "ConnectEvent",
    "DisconnectEvent",
    "CommentEvent",
    "GiftEvent",
    "LikeEvent",
    "JoinEvent",
    "FollowEvent",
    "ShareEvent",
    "SocialEvent",
    "RoomUserSeqEvent",
    "LiveEndEvent",
    "LivePauseEvent",
    "LiveUnpauseEvent",
    "ControlEvent",
    "UnknownEvent",
)


def describe(event: Any) -> dict[str, Any]:
    """The event name plus the fields tests match on; int64 ids as strings, like the Node driver."""
    name = type(event).__name__.removesuffix("Event")
    out: dict[str, Any] = {"event": name}
    common = getattr(event, "common", None)
    if common is not None and getattr(common, "msg_id", 0):
        out["msg_id"] = str(common.msg_id)
    user = getattr(event, "user", None)
    if user is not None and getattr(user, "display_id", ""):
        out["user"] = user.display_id
    if name == "Connect":
        out["room_id"] = str(event.room_id)
        out["unique_id"] = event.unique_id
    elif name == "Comment":
        out["content"] = event.comment
    elif name == "Gift":
        out.update(
            gift_id=str(event.gift.id),
            gift_name=event.gift.name,
            repeat_count=event.repeat_count,
            repeat_end=bool(event.repeat_end),
            streaking=event.streaking,
        )
    elif name == "Like":
        out.update(count=event.count, total=event.total)
    elif name == "RoomUserSeq":
        out.update(total=event.total, total_user=event.total_user)
    elif name in ("Control", "LiveEnd", "LivePause", "LiveUnpause"):
        out["action"] = int(event.action)
    elif name == "Join":
        out.update(action=int(event.action), member_count=event.member_count)
    elif name == "Unknown":
        out["method"] = event.base_message.method if getattr(event, "base_message", None) else ""
    return out


def build_client(args: argparse.Namespace) -> Any:
    # Patch the module-level defaults before the client (and its signer) are built: see spec §2.1.
    from TikTokLive import TikTokLiveClient
    from TikTokLive.client.web.web_settings import WebDefaults

    WebDefaults.tiktok_app_url = args.web.rstrip("/")
    WebDefaults.tiktok_webcast_url = (args.webcast or args.web).rstrip("/") + "/webcast"
    WebDefaults.tiktok_sign_url = args.sign.rstrip("/")
    signer: dict[str, Any] = {"sign_api_base": args.sign.rstrip("/")}
    if args.api_key:
        signer["sign_api_key"] = args.api_key
    return TikTokLiveClient(args.unique_id, web_kwargs={"signer_kwargs": signer})


async def run(args: argparse.Namespace) -> int:
    from TikTokLive import events

    client = build_client(args)
    for name in EVENT_NAMES:
        client.add_listener(getattr(events, name), lambda event: emit(describe(event)))
    try:
        # --room-id skips the room page scrape and --no-live-check the check_alive call, so the client goes
        # straight to the sign server: a room that is not live (or not known) is then reported by the sign
        # server instead of the client's own checks. Only passed when asked (older TikTokLive versions).
        start_kwargs: dict[str, Any] = {"fetch_live_check": False} if args.no_live_check else {}
        if args.room_id:
            start_kwargs["room_id"] = int(args.room_id)
        task = await asyncio.wait_for(
            client.start(fetch_room_info=args.room_info, fetch_gift_info=args.gift_info, **start_kwargs),
            args.timeout,
        )
        await asyncio.wait_for(task, args.timeout)
    except TimeoutError:
        emit({"event": "outcome", "ok": False, "error": "Timeout", "message": f"no end within {args.timeout}s"})
        await _quiet_disconnect(client)
        return 4
    except Exception as exc:  # the client's own error class is the result of a negative test
        emit({"event": "outcome", "ok": False, "error": type(exc).__name__, "message": str(exc)[:500]})
        await _quiet_disconnect(client)
        return 3
    emit({"event": "outcome", "ok": True})
    return 0


async def _quiet_disconnect(client: Any) -> None:
    try:
        await asyncio.wait_for(client.disconnect(close_client=True), 5)
    except Exception as exc:  # teardown only; the outcome line is already out
        print(f"disconnect failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = loopback_parser(__doc__, timeout_s=30)
    parser.add_argument("--room-info", action="store_true", help="also fetch room info (start(fetch_room_info=True))")
    parser.add_argument("--gift-info", action="store_true", help="also fetch the gift list")
    parser.add_argument("--room-id", help="connect to this room id without scraping it (start(room_id=...))")
    parser.add_argument(
        "--no-live-check", action="store_true", help="skip the client's own live check (start(fetch_live_check=False))"
    )
    return parse_loopback(parser, argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args())))
