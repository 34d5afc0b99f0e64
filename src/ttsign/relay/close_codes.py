"""The close codes a relay consumer sees: Euler Stream's WebSocket API codes, plus one of ttsign's own.

Codes and reasons are the Euler SDK's (`ClientCloseCode`, `CloseMessageMap`, @eulerstream/euler-websocket-sdk
0.0.6), so a client written for Euler reads ttsign's closes the same way. `SLOW_CONSUMER` is ttsign's: Euler
names no code for a consumer dropped because it could not keep up.
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000
    INTERNAL_ERROR = 1011
    STREAM_END = 4005
    NO_MESSAGES_TIMEOUT = 4006
    SLOW_CONSUMER = 4008  # ttsign: the consumer's queue filled up; reconnect and read faster
    INVALID_OPTIONS = 4400
    INVALID_AUTH = 4401
    NO_PERMISSION = 4403
    NOT_LIVE = 4404
    TOO_MANY_CONNECTIONS = 4429
    TIKTOK_CLOSED_CONNECTION = 4500
    MAX_LIFETIME_EXCEEDED = 4555
    WEBCAST_FETCH_ERROR = 4556
    ROOM_INFO_FETCH_ERROR = 4557


REASONS: dict[CloseCode, str] = {
    CloseCode.NORMAL: "Normal closure",
    CloseCode.INTERNAL_ERROR: "Internal server error",
    CloseCode.STREAM_END: "TikTok stream ended",
    CloseCode.NO_MESSAGES_TIMEOUT: "No messages received in timeout period, closing WebSocket",
    CloseCode.SLOW_CONSUMER: "Consumer too slow, events dropped",
    CloseCode.INVALID_OPTIONS: "Invalid options provided",
    CloseCode.INVALID_AUTH: "Invalid auth",
    CloseCode.NO_PERMISSION: "No permission",
    CloseCode.NOT_LIVE: "Streamer is not live",
    CloseCode.TOO_MANY_CONNECTIONS: "Too many concurrent connections",
    CloseCode.TIKTOK_CLOSED_CONNECTION: "TikTok closed the connection unexpectedly",
    CloseCode.MAX_LIFETIME_EXCEEDED: "Max lifetime exceeded",
    CloseCode.WEBCAST_FETCH_ERROR: "Error fetching /webcast/fetch",
    CloseCode.ROOM_INFO_FETCH_ERROR: "Error fetching /webcast/room_info",
}

# A WebSocket close reason is at most 123 bytes (RFC 6455 5.5: 125-byte control payload, 2 for the code).
_MAX_REASON_BYTES = 123


def close_reason(code: CloseCode, detail: str = "") -> str:
    """The code's reason, with a detail after it when one fits the close frame."""
    text = f"{REASONS[code]}: {detail}" if detail else REASONS[code]
    encoded = text.encode("utf-8")
    if len(encoded) <= _MAX_REASON_BYTES:
        return text
    return encoded[:_MAX_REASON_BYTES].decode("utf-8", "ignore")
