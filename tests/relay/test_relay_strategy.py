"""The `relay` connect strategy (service/strategies/relay.py) and its door (api/relay/door.py)."""

from __future__ import annotations

import pytest

from tests.relay.fakes import FakeLink, FakeUpstream
from ttsign.api.relay import admit
from ttsign.api.relay.door import PUSH_SERVER, RelayClientDoor, push_server_of, refusal_of
from ttsign.proto import webcast_pb2 as pb
from ttsign.relay import CloseCode, Ending, Relay, SessionPolicy
from ttsign.relay.upstream import OpenFailure
from ttsign.service.strategies import Connected, ConnectRequest, RelayDoorSlot, RelayStrategy, Target
from ttsign.signing import default_profile
from ttsign.upstream.refusals import Refusal, RefusalCode

pytestmark = pytest.mark.timeout(10)


def request(target: Target) -> ConnectRequest:
    return ConnectRequest(target, default_profile(None), "", "", "req-1", deadline=1e18)


async def secret() -> bytes:
    return b"s" * 32


async def test_without_a_relay_the_strategy_refuses() -> None:
    outcome = await RelayStrategy(RelayDoorSlot()).connect(request(Target(room_id="7390")))
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.NO_STRATEGY


async def connect_in_relay_mode(relay: Relay) -> Connected | Refusal:
    """Room 7390 through the relay strategy, in a request to ttsign.test:8080."""
    slot = RelayDoorSlot()
    slot.attach(RelayClientDoor(relay, secret))
    token = PUSH_SERVER.set("ws://ttsign.test:8080/webcast/relay/push/")
    try:
        return await RelayStrategy(slot).connect(request(Target(room_id="7390")))
    finally:
        PUSH_SERVER.reset(token)


async def test_the_door_answers_a_fetch_result_pointing_at_this_servers_push_socket() -> None:
    relay = Relay(FakeUpstream(FakeLink()), SessionPolicy(grace_s=0.05))
    outcome = await connect_in_relay_mode(relay)
    assert isinstance(outcome, Connected), outcome
    assert (outcome.strategy, outcome.room_id, outcome.request_id) == ("relay", "7390", "req-1")
    assert outcome.ttwid.startswith("relay-")
    result = pb.ProtoMessageFetchResult.FromString(outcome.payload)
    assert result.push_server == "ws://ttsign.test:8080/webcast/relay/push/"
    assert result.route_params["relay_room"] == "room:7390"
    await relay.close()


async def test_the_ticket_is_dated_before_the_rooms_socket_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    # The client's socket is replayed the frames since its ticket's date; TikTok may push the first ones while
    # the room opens, so a ticket dated after the opening would skip them.
    upstream = FakeUpstream(FakeLink())
    relay = Relay(upstream, SessionPolicy(grace_s=0.05))
    opens_when_dated: list[int] = []

    def clock() -> int:
        opens_when_dated.append(upstream.opens)
        return 1_700_000_000_000

    monkeypatch.setattr(admit, "now_ms", clock)
    outcome = await connect_in_relay_mode(relay)
    assert isinstance(outcome, Connected), outcome
    assert opens_when_dated == [0] and upstream.opens == 1
    ticket = pb.ProtoMessageFetchResult.FromString(outcome.payload).route_params["relay_ticket"]
    assert ticket.startswith("1700000000000.")
    await relay.close()


async def test_the_door_refuses_outside_a_request_and_for_a_room_that_is_not_live() -> None:
    relay = Relay(FakeUpstream(OpenFailure(CloseCode.NOT_LIVE, "room_not_live")), SessionPolicy())
    door = RelayClientDoor(relay, secret)
    outside = await door.open_for_client(Target(room_id="7390"), "r")
    assert isinstance(outside, Refusal) and outside.code is RefusalCode.NO_STRATEGY
    token = PUSH_SERVER.set("ws://h/webcast/relay/push/")
    try:
        offline = await door.open_for_client(Target(unique_id="emu"), "r")
    finally:
        PUSH_SERVER.reset(token)
    assert isinstance(offline, Refusal) and offline.code is RefusalCode.ROOM_NOT_LIVE


def test_endings_become_the_refusals_the_dialects_render() -> None:
    assert refusal_of(Ending(CloseCode.NOT_LIVE, "room_not_found")).code is RefusalCode.ROOM_NOT_FOUND
    assert refusal_of(Ending(CloseCode.WEBCAST_FETCH_ERROR, "device_blocked")).code is RefusalCode.DEVICE_BLOCKED
    assert refusal_of(Ending(CloseCode.NOT_LIVE)).code is RefusalCode.ROOM_NOT_LIVE
    assert refusal_of(Ending(CloseCode.INTERNAL_ERROR, "boom")).code is RefusalCode.TRANSPORT_ERROR


def test_the_push_socket_address_follows_the_request() -> None:
    http = {"type": "http", "scheme": "http", "headers": [(b"host", b"relay.example:8080")], "server": None}
    assert push_server_of(http) == "ws://relay.example:8080/webcast/relay/push/"
    https = {"type": "http", "scheme": "https", "headers": [], "server": ("10.0.0.1", 443)}
    assert push_server_of(https) == "wss://10.0.0.1:443/webcast/relay/push/"
