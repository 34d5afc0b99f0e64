"""Frames decoded from bytes and built to bytes, with no socket (relay/frames.py, relay/address.py)."""

from __future__ import annotations

import gzip
from urllib.parse import parse_qsl, urlsplit

import pytest

from ttsign.proto import webcast_pb2 as pb
from ttsign.relay.address import socket_url
from ttsign.relay.frames import (
    MAX_INFLATED_BYTES,
    FrameError,
    OtherFrame,
    PushedBatch,
    ack_frame,
    decode_frame,
    enter_room_frame,
    fetch_start,
    heartbeat_frame,
)


def chat(msg_id: int, text: str) -> pb.BaseProtoMessage:
    payload = pb.WebcastChatMessage(content=text).SerializeToString()
    return pb.BaseProtoMessage(method="WebcastChatMessage", payload=payload, msg_id=msg_id)


def msg_frame(*, compress: str = "", flag: bool = True, internal_ext: str = "ie-1") -> bytes:
    result = pb.ProtoMessageFetchResult(
        messages=[chat(11, "hi"), chat(12, "there")], cursor="c-1", internal_ext=internal_ext, need_ack=True
    )
    payload = result.SerializeToString()
    frame = pb.WebcastPushFrame(log_id=9001, payload_type="msg", payload_encoding="pb")
    if compress == "gzip":
        payload = gzip.compress(payload)
        if flag:
            frame.headers.append(pb.PushHeader(key="compress_type", value="gzip"))
    frame.payload = payload
    return frame.SerializeToString()


@pytest.mark.parametrize(("compress", "flag"), [("", True), ("gzip", True), ("gzip", False)])
def test_msg_frame_decodes_plain_and_gzip_by_header_or_magic(compress: str, flag: bool) -> None:
    data = msg_frame(compress=compress, flag=flag)
    batch = decode_frame(data)
    assert isinstance(batch, PushedBatch)
    assert [m.msg_id for m in batch.messages] == [11, 12]
    assert (batch.log_id, batch.need_ack, batch.internal_ext, batch.cursor) == (9001, True, "ie-1", "c-1")
    assert batch.raw == data


def test_other_frames_are_named_not_decoded() -> None:
    data = pb.WebcastPushFrame(payload_type="im_enter_room_resp", payload_encoding="pb").SerializeToString()
    assert decode_frame(data) == OtherFrame("im_enter_room_resp")


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff\xff",  # not protobuf
        pb.WebcastPushFrame(
            payload_type="msg",
            payload=b"\x1f\x8b\x08garbage",
            headers=[pb.PushHeader(key="compress_type", value="gzip")],
        ).SerializeToString(),
        pb.WebcastPushFrame(payload_type="msg", payload=b"\xff\xff\xff").SerializeToString(),
    ],
    ids=["not-a-frame", "bad-gzip", "not-a-fetch-result"],
)
def test_unreadable_bytes_are_a_frame_error(data: bytes) -> None:
    with pytest.raises(FrameError):
        decode_frame(data)


def test_a_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (MAX_INFLATED_BYTES + 1))
    data = pb.WebcastPushFrame(payload_type="msg", payload=bomb).SerializeToString()
    with pytest.raises(FrameError, match="inflates past"):
        decode_frame(data)


def test_client_frames_carry_what_the_push_server_reads() -> None:
    hb = pb.WebcastPushFrame.FromString(heartbeat_frame(7390, 3))
    assert (hb.payload_type, hb.payload_encoding) == ("hb", "pb")
    beat = pb.HeartBeatMessage.FromString(hb.payload)
    assert (beat.room_id, beat.send_packet_seq_id) == (7390, 3)
    enter = pb.WebcastPushFrame.FromString(enter_room_frame(7390, "c-0"))
    message = pb.WebcastImEnterRoomMessage.FromString(enter.payload)
    assert (enter.payload_type, message.room_id, message.live_id, message.identity, message.cursor) == (
        "im_enter_room",
        7390,
        12,
        "audience",
        "c-0",
    )


@pytest.mark.parametrize(("internal_ext", "echoed"), [("ie-1", b"ie-1"), ("", b"-")])
def test_ack_echoes_log_id_and_internal_ext(internal_ext: str, echoed: bytes) -> None:
    batch = decode_frame(msg_frame(internal_ext=internal_ext))
    assert isinstance(batch, PushedBatch)
    ack = pb.WebcastPushFrame.FromString(ack_frame(batch))
    assert (ack.payload_type, ack.log_id, ack.payload) == ("ack", 9001, echoed)


def test_fetch_start_needs_a_push_server() -> None:
    with pytest.raises(FrameError, match="no push server"):
        fetch_start(pb.ProtoMessageFetchResult(cursor="c").SerializeToString())
    with pytest.raises(FrameError):
        fetch_start(b"\xff\xff")


def test_socket_url_keeps_route_params_and_fills_the_players_defaults() -> None:
    result = pb.ProtoMessageFetchResult(
        push_server="ws://127.0.0.1:1/webcast/im/ws_proxy/ws_reuse_supplement/",
        cursor="c-0",
        internal_ext="ie-0",
        route_params={"wrss": "emu-wrss", "compress": "none"},
    )
    browser = {"browser_name": "Mozilla", "browser_platform": "Win32"}
    url = socket_url(fetch_start(result.SerializeToString()), "7390", browser)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    assert parts.path == "/webcast/im/ws_proxy/ws_reuse_supplement/"
    assert query["wrss"] == "emu-wrss"
    assert query["compress"] == "none"  # a route param wins over our default
    assert (query["room_id"], query["cursor"], query["internal_ext"], query["aid"]) == ("7390", "c-0", "ie-0", "1988")
    assert (query["browser_name"], query["browser_platform"]) == ("Mozilla", "Win32")
    assert len(parse_qsl(parts.query)) == len(query)  # nothing twice


def test_socket_url_appends_to_a_push_server_with_a_query() -> None:
    result = pb.ProtoMessageFetchResult(push_server="wss://relay.example/?token=t", route_params={"a": "b"})
    url = socket_url(fetch_start(result.SerializeToString()), "1", {})
    assert url.startswith("wss://relay.example/?token=t&a=b&")
