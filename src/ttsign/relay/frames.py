"""The push socket's frames, decoded and built without I/O (the h11 way: bytes in, values out).

Server to client: `msg` frames whose payload is a ProtoMessageFetchResult, gzip-compressed when the
`compress_type=gzip` header says so (or the gzip magic is there: the Node client goes by the bytes);
anything else (`im_enter_room_resp`, `hb` echoes) is acknowledged as an `OtherFrame`. Client to server:
`hb`, `im_enter_room` and `ack` frames (webcast-protocol.md §3.3).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from ttsign.proto import webcast_pb2 as pb

GZIP_MAGIC = b"\x1f\x8b"
# A compressed frame may not inflate past this: a gzip bomb must not take the relay's memory.
MAX_INFLATED_BYTES = 16 * 1024 * 1024
LIVE_ID = 12  # what the web player sends in im_enter_room


class FrameError(ValueError):
    """Bytes that are not a frame we can read (not protobuf, bad gzip, too large)."""


@dataclass(frozen=True)
class PushedBatch:
    """One `msg` frame: the messages it carries, and what its ack must echo."""

    log_id: int
    need_ack: bool
    internal_ext: str
    cursor: str
    messages: tuple[pb.BaseProtoMessage, ...]
    raw: bytes = field(repr=False)  # the frame as received, for consumers that asked for raw frames


@dataclass(frozen=True)
class OtherFrame:
    payload_type: str


@dataclass(frozen=True)
class FetchStart:
    """What a first fetch result says about the socket: where it is and what to send on it."""

    push_server: str
    route_params: tuple[tuple[str, str], ...]
    cursor: str
    internal_ext: str
    heartbeat_ms: int
    messages: tuple[pb.BaseProtoMessage, ...]


def inflate(payload: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip wrapper
    try:
        data = inflater.decompress(payload, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise FrameError(f"bad gzip payload: {exc}") from None
    if inflater.unconsumed_tail:
        raise FrameError(f"payload inflates past {MAX_INFLATED_BYTES} bytes")
    return data


def _is_gzip(frame: pb.WebcastPushFrame) -> bool:
    flagged = any(h.key == "compress_type" and h.value == "gzip" for h in frame.headers)
    return flagged or frame.payload.startswith(GZIP_MAGIC)


def decode_frame(data: bytes) -> PushedBatch | OtherFrame:
    """A server frame as the relay needs it. Raises FrameError for bytes it cannot read."""
    try:
        frame = pb.WebcastPushFrame.FromString(data)
    except DecodeError as exc:
        raise FrameError(f"not a push frame: {exc}") from None
    if frame.payload_type != "msg":
        return OtherFrame(frame.payload_type)
    payload = inflate(frame.payload) if _is_gzip(frame) else frame.payload
    try:
        result = pb.ProtoMessageFetchResult.FromString(payload)
    except DecodeError as exc:
        raise FrameError(f"msg payload is not a fetch result: {exc}") from None
    return PushedBatch(
        log_id=frame.log_id,
        need_ack=result.need_ack,
        internal_ext=result.internal_ext,
        cursor=result.cursor,
        messages=tuple(result.messages),
        raw=data,
    )


def fetch_start(payload: bytes) -> FetchStart:
    """The first fetch result a connect strategy hands out. Raises FrameError without a push server."""
    try:
        result = pb.ProtoMessageFetchResult.FromString(payload)
    except DecodeError as exc:
        raise FrameError(f"the connect result is not a fetch result: {exc}") from None
    if not result.push_server:
        raise FrameError("the connect result names no push server")
    return FetchStart(
        push_server=result.push_server,
        route_params=tuple(sorted(result.route_params.items())),
        cursor=result.cursor,
        internal_ext=result.internal_ext,
        heartbeat_ms=result.heartbeat_duration,
        messages=tuple(result.messages),
    )


def _client_frame(payload_type: str, payload: bytes, log_id: int = 0) -> bytes:
    frame = pb.WebcastPushFrame(payload_type=payload_type, payload_encoding="pb", payload=payload, log_id=log_id)
    return frame.SerializeToString()


def heartbeat_frame(room_id: int, seq: int) -> bytes:
    return _client_frame("hb", pb.HeartBeatMessage(room_id=room_id, send_packet_seq_id=seq).SerializeToString())


def enter_room_frame(room_id: int, cursor: str) -> bytes:
    enter = pb.WebcastImEnterRoomMessage(
        room_id=room_id, live_id=LIVE_ID, identity="audience", cursor=cursor, filter_welcome_msg="0"
    )
    return _client_frame("im_enter_room", enter.SerializeToString())


def ack_frame(batch: PushedBatch) -> bytes:
    # An empty internal_ext is acked as "-", as the Python client does (the Node one skips the ack).
    return _client_frame("ack", (batch.internal_ext or "-").encode("utf-8"), log_id=batch.log_id)
