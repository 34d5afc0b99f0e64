"""Webcast messages as the Euler WebSocket API's JSON events: `{type, data}`, `type` the message name and
`data` its fields in camelCase (pure; no I/O).

Field names follow the `json_name`s in our schema (proto/webcast.proto), which give Euler's names where they
differ from the wire schema's (`comment`, `giftDetails`, `likeCount`, `viewerCount`, `uniqueId`, ...). Every
declared field is present, defaults included, as a ts-proto decoder gives them; 64-bit ids are decimal
strings (JavaScript numbers cannot hold them) except the counts Euler types as numbers. Methods our schema
does not declare are not relayed as JSON (the Node client skips them too); raw frames still carry them.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message

from ttsign.proto import webcast_pb2 as pb

Event = dict[str, Any]

SCHEMAS: dict[str, type[Message]] = {
    "WebcastChatMessage": pb.WebcastChatMessage,
    "WebcastGiftMessage": pb.WebcastGiftMessage,
    "WebcastLikeMessage": pb.WebcastLikeMessage,
    "WebcastMemberMessage": pb.WebcastMemberMessage,
    "WebcastSocialMessage": pb.WebcastSocialMessage,
    "WebcastRoomUserSeqMessage": pb.WebcastRoomUserSeqMessage,
    "WebcastControlMessage": pb.WebcastControlMessage,
}

# int64 fields Euler's schema types as JSON numbers (counts, not ids).
_NUMBERS = frozenset({"giftId", "viewerCount", "totalUser", "followCount", "shareCount"})
_ENDS_STREAM = frozenset({pb.CONTROL_ACTION_STREAM_ENDED, pb.CONTROL_ACTION_STREAM_SUSPENDED})


def _numbers(data: dict[str, Any]) -> dict[str, Any]:
    for name in _NUMBERS.intersection(data):
        data[name] = int(data[name])
    return data


def event_of(message: pb.BaseProtoMessage) -> Event | None:
    """The JSON event for one message, or None for a method we do not decode (or bytes that do not parse)."""
    schema = SCHEMAS.get(message.method)
    if schema is None:
        return None
    try:
        decoded = schema.FromString(message.payload)
    except DecodeError:
        return None
    data = MessageToDict(decoded, always_print_fields_with_no_presence=True, use_integers_for_enums=True)
    return {"type": message.method, "data": _numbers(data)}


def ends_stream(message: pb.BaseProtoMessage) -> bool:
    """A control message saying the stream ended or was suspended: nothing more will come."""
    if message.method != "WebcastControlMessage":
        return False
    try:
        return pb.WebcastControlMessage.FromString(message.payload).action in _ENDS_STREAM
    except DecodeError:
        return False


def is_viewer_count(event: Event) -> bool:
    return bool(event["type"] == "WebcastRoomUserSeqMessage")
