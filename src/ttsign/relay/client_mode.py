"""Relay mode for unmodified client libraries (issue 14 item 4), the pure part: the fetch result that points
a client's `push_server` at ttsign's own push socket, and the ticket that lets that socket in (no I/O).

TikTokLive and tiktok-live-connector follow any `push_server` (Euler did this in its 2026-09 incident): the
client asks ttsign for the room as usual and gets a result whose socket is ttsign's relay, which speaks
TikTok's push protocol to it. The route params carry the room and a ticket (an HMAC over the room and the
time it was issued): the clients send them back verbatim on the socket's query, so only a client that was
admitted a moment ago gets in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ttsign.proto import webcast_pb2 as pb

PUSH_PATH = "/webcast/relay/push/"
ROOM_PARAM, TICKET_PARAM = "relay_room", "relay_ticket"
TICKET_LIFETIME_MS = 60_000
HEARTBEAT_MS = 10_000


def room_key(room_id: str) -> str:
    """The relay's name for a room asked for by id (a streamer's unique id never holds a ':')."""
    return f"room:{room_id}"


def _mac(secret: bytes, key: str, issued_ms: int) -> str:
    return hmac.new(secret, f"{key}:{issued_ms}".encode(), hashlib.sha256).hexdigest()[:32]


def issue_ticket(secret: bytes, key: str, now_ms: int) -> str:
    return f"{now_ms}.{_mac(secret, key, now_ms)}"


@dataclass(frozen=True)
class Ticket:
    issued_ms: int


def check_ticket(secret: bytes, key: str, ticket: str, now_ms: int) -> Ticket | None:
    """The ticket when it is ours, for this room, and fresh; else None."""
    issued, _, mac = ticket.partition(".")
    if not issued.isdigit() or len(issued) > 16:
        return None
    issued_ms = int(issued)
    if not 0 <= now_ms - issued_ms <= TICKET_LIFETIME_MS:
        return None
    if not hmac.compare_digest(mac, _mac(secret, key, issued_ms)):
        return None
    return Ticket(issued_ms)


def relay_fetch_result(push_server: str, key: str, ticket: str, *, now_ms: int) -> bytes:
    """The first fetch result a client gets in relay mode: no messages, ttsign's socket, is_first set
    (TikTokLive enters the room and starts heartbeats only then), and a non-empty cursor (Node needs one)."""
    result = pb.ProtoMessageFetchResult(
        cursor="relay-0",
        internal_ext="relay",
        now=now_ms,
        fetch_type=1,
        heartbeat_duration=HEARTBEAT_MS,
        need_ack=False,
        push_server=push_server,
        is_first=True,
    )
    result.route_params[ROOM_PARAM] = key
    result.route_params[TICKET_PARAM] = ticket
    return result.SerializeToString()


def enter_room_response(seq: int) -> bytes:
    """What the push server answers an `im_enter_room` with (Node emits `enterRoom` on it)."""
    frame = pb.WebcastPushFrame(seq_id=seq, log_id=seq, payload_encoding="pb", payload_type="im_enter_room_resp")
    return frame.SerializeToString()


def client_frame_type(data: bytes) -> str:
    """The payload type of a frame a client sent (hb, ack, im_enter_room), or "" when it is not a frame."""
    try:
        return str(pb.WebcastPushFrame.FromString(data).payload_type)
    except Exception:  # any undecodable bytes: not a frame
        return ""
