"""Relay mode's pure part (relay/client_mode.py): the tickets and the fetch result handed to clients."""

from __future__ import annotations

from ttsign.proto import webcast_pb2 as pb
from ttsign.relay.client_mode import (
    TICKET_LIFETIME_MS,
    Ticket,
    check_ticket,
    client_frame_type,
    enter_room_response,
    issue_ticket,
    relay_fetch_result,
    room_key,
)

SECRET = b"s" * 32
KEY = room_key("7390")
NOW = 1_796_000_000_000


def test_a_ticket_admits_its_room_while_fresh() -> None:
    ticket = issue_ticket(SECRET, KEY, NOW)
    assert check_ticket(SECRET, KEY, ticket, NOW + 5_000) == Ticket(NOW)
    assert check_ticket(SECRET, KEY, ticket, NOW + TICKET_LIFETIME_MS + 1) is None  # expired
    assert check_ticket(SECRET, KEY, ticket, NOW - 1) is None  # from the future
    assert check_ticket(SECRET, room_key("7391"), ticket, NOW) is None  # another room
    assert check_ticket(b"t" * 32, KEY, ticket, NOW) is None  # another server's secret


def test_forged_tickets_are_refused() -> None:
    mac = issue_ticket(SECRET, KEY, NOW).split(".")[1]
    for forged in ("", ".", f"{NOW}.", f"{NOW + 1}.{mac}", f"x.{mac}", f"{'9' * 40}.{mac}", f"{NOW}.{'0' * 32}"):
        assert check_ticket(SECRET, KEY, forged, NOW) is None, forged


def test_the_fetch_result_has_what_both_clients_require() -> None:
    result = pb.ProtoMessageFetchResult.FromString(
        relay_fetch_result("ws://h:1/webcast/relay/push/", KEY, "t", now_ms=NOW)
    )
    assert result.push_server == "ws://h:1/webcast/relay/push/"
    assert result.is_first and result.cursor  # TikTokLive enters only on is_first; Node needs a cursor
    assert dict(result.route_params) == {"relay_room": KEY, "relay_ticket": "t"}
    assert not result.messages and not result.need_ack


def test_frames_to_and_from_clients() -> None:
    answer = pb.WebcastPushFrame.FromString(enter_room_response(3))
    assert (answer.payload_type, answer.payload_encoding, answer.log_id) == ("im_enter_room_resp", "pb", 3)
    assert client_frame_type(pb.WebcastPushFrame(payload_type="hb").SerializeToString()) == "hb"
    assert client_frame_type(b"\xff\xff\xff") == ""


def test_the_server_sends_no_websocket_pings() -> None:
    """tiktok-live-connector never answers a ping (spec §4.2): uvicorn's default 20 s ping would drop it."""
    from ttsign.api.app import create_app
    from ttsign.api.server import server_config
    from ttsign.config import Settings
    from ttsign.store.memory import MemoryKeyStore

    settings = Settings(upstream="http://127.0.0.1:9")
    config = server_config(create_app(settings, store=MemoryKeyStore()), settings)
    assert config.ws_ping_interval is None
    assert config.ws_per_message_deflate is False  # relay_deflate's default


def test_compression_can_be_switched_on() -> None:
    from ttsign.api.app import create_app
    from ttsign.api.server import server_config
    from ttsign.config import Settings
    from ttsign.store.memory import MemoryKeyStore

    settings = Settings(upstream="http://127.0.0.1:9", relay_deflate=True)
    assert server_config(create_app(settings, store=MemoryKeyStore()), settings).ws_per_message_deflate is True
