"""Room sessions and the relay hub (relay/session.py, relay/hub.py), against a scripted upstream."""

from __future__ import annotations

import asyncio

import pytest

from tests.relay.fakes import FakeLink, FakeUpstream, chat, control, viewers
from ttsign.relay.close_codes import CloseCode
from ttsign.relay.consumer import Consumer, Delivery, Ending
from ttsign.relay.hub import Joined, Relay
from ttsign.relay.session import SessionPolicy
from ttsign.relay.upstream import OpenFailure

pytestmark = pytest.mark.timeout(10)

FAST = SessionPolicy(queue_size=4, grace_s=0.05, reconnect_attempts=2, backoff_s=0.01)


async def comments(consumer: Consumer, count: int) -> list[str]:
    texts: list[str] = []
    while len(texts) < count:
        item = await asyncio.wait_for(consumer.next(), 2)
        assert isinstance(item, Delivery), item
        texts += [event["data"]["comment"] for event in item.events if event["type"] == "WebcastChatMessage"]
    return texts


async def ending(consumer: Consumer) -> Ending:
    while True:
        item = await asyncio.wait_for(consumer.next(), 2)
        if isinstance(item, Ending):
            return item


async def join(relay: Relay, unique_id: str = "emu", **kwargs: object) -> Joined:
    joined = await relay.join(unique_id, **kwargs)  # type: ignore[arg-type]
    assert isinstance(joined, Joined), joined
    return joined


async def test_one_socket_serves_every_consumer_of_a_room() -> None:
    link = FakeLink(initial=(viewers(1, 100),))
    upstream = FakeUpstream(link)
    relay = Relay(upstream, FAST)
    a, b = await join(relay), await join(relay)
    assert (a.room.room_id, upstream.opens) == ("7390", 1)
    link.push(chat(11, "hello"))
    link.push(chat(12, "world"))
    assert await comments(a.consumer, 2) == ["hello", "world"]
    assert await comments(b.consumer, 2) == ["hello", "world"]
    # A late joiner is told the viewer count first.
    c = await join(relay)
    assert [e["data"]["viewerCount"] for e in c.replay] == [100]
    await relay.close()


async def test_stream_end_delivers_the_events_before_it_then_closes_4005() -> None:
    link = FakeLink()
    relay = Relay(FakeUpstream(link), FAST)
    joined = await join(relay)
    link.push(chat(11, "last words"), control(99, 3))
    item = await joined.consumer.next()
    assert isinstance(item, Delivery) and [e["type"] for e in item.events] == [
        "WebcastChatMessage",
        "WebcastControlMessage",
    ]
    assert await ending(joined.consumer) == Ending(CloseCode.STREAM_END)
    await asyncio.wait_for(link.closed.wait(), 2)


@pytest.mark.parametrize(
    ("failure", "code"),
    [(CloseCode.NOT_LIVE, CloseCode.NOT_LIVE), (CloseCode.WEBCAST_FETCH_ERROR, CloseCode.WEBCAST_FETCH_ERROR)],
)
async def test_a_room_that_cannot_open_refuses_every_waiting_consumer(failure: CloseCode, code: CloseCode) -> None:
    relay = Relay(FakeUpstream(OpenFailure(failure, "room_not_live")), FAST)
    first, second = await asyncio.gather(relay.join("emu"), relay.join("emu"))
    assert first == second == Ending(code, "room_not_live")
    assert relay.rooms == {}


async def test_a_slow_consumer_is_dropped_and_the_others_unaffected() -> None:
    link = FakeLink()
    relay = Relay(FakeUpstream(link), FAST)
    slow, quick = await join(relay, label="slow"), await join(relay, label="quick")
    received: list[str] = []
    for n in range(FAST.queue_size + 2):
        link.push(chat(100 + n, f"m{n}"))
        received += await comments(quick.consumer, 1)
    assert received == [f"m{n}" for n in range(FAST.queue_size + 2)]
    assert slow.consumer.ending is not None and slow.consumer.ending.code is CloseCode.SLOW_CONSUMER
    assert await ending(slow.consumer) == slow.consumer.ending  # the close comes at once, not after the backlog
    assert slow.consumer not in relay.rooms["emu"].consumers
    await relay.close()


async def test_the_socket_closes_after_the_grace_period_not_before() -> None:
    link = FakeLink()
    upstream = FakeUpstream(link, FakeLink())
    relay = Relay(upstream, SessionPolicy(grace_s=0.3))
    first = await join(relay)
    relay.leave(first)
    await asyncio.sleep(0.05)
    second = await join(relay)  # back within the grace period: same socket
    assert (upstream.opens, link.closed.is_set()) == (1, False)
    relay.leave(second)
    await asyncio.wait_for(link.closed.wait(), 2)
    for _ in range(100):
        if not relay.rooms:
            break
        await asyncio.sleep(0.01)
    assert relay.rooms == {}
    third = await join(relay)  # a new session, a new socket
    assert upstream.opens == 2
    await relay.close()
    assert third.consumer.ending is not None


async def test_a_dropped_socket_is_reopened_and_nothing_is_relayed_twice() -> None:
    first, second = FakeLink(), FakeLink()
    upstream = FakeUpstream(first, second)
    relay = Relay(upstream, FAST)
    joined = await join(relay)
    first.push(chat(11, "before"))
    assert await comments(joined.consumer, 1) == ["before"]
    first.drop()
    # The new socket replays message 11 (as a fresh TikTok socket may): it is not relayed again.
    second.push(chat(11, "before"), chat(12, "after"))
    assert await comments(joined.consumer, 1) == ["after"]
    assert upstream.opens == 2
    await relay.close()


async def test_when_tiktok_will_not_take_us_back_consumers_get_4500() -> None:
    link = FakeLink()
    upstream = FakeUpstream(link)  # every reopen fails
    relay = Relay(upstream, FAST)
    joined = await join(relay)
    link.drop()
    end = await ending(joined.consumer)
    assert end.code is CloseCode.TIKTOK_CLOSED_CONNECTION
    assert upstream.opens == 1 + FAST.reconnect_attempts


async def test_a_stream_that_ended_while_reconnecting_closes_4005() -> None:
    link = FakeLink()
    relay = Relay(FakeUpstream(link, OpenFailure(CloseCode.NOT_LIVE, "room_not_live")), FAST)
    joined = await join(relay)
    link.drop()
    assert (await ending(joined.consumer)).code is CloseCode.STREAM_END


async def test_concurrent_socket_caps_count_open_sockets_only() -> None:
    relay = Relay(FakeUpstream(FakeLink()), FAST)
    caps = [("key:k1", 2)]
    a = await join(relay, caps=caps)
    await join(relay, caps=caps)
    assert await relay.join("emu", caps=caps) == Ending(CloseCode.TOO_MANY_CONNECTIONS)
    relay.leave(a)
    await join(relay, caps=caps)
    await relay.close()


async def test_a_refused_room_gives_its_cap_back() -> None:
    relay = Relay(FakeUpstream(OpenFailure(CloseCode.NOT_LIVE), OpenFailure(CloseCode.NOT_LIVE)), FAST)
    caps = [("key:k1", 1)]
    assert await relay.join("emu", caps=caps) == Ending(CloseCode.NOT_LIVE)
    assert await relay.join("emu", caps=caps) == Ending(CloseCode.NOT_LIVE)  # not 4429


async def test_shutdown_ends_consumers_and_closes_the_socket() -> None:
    link = FakeLink()
    relay = Relay(FakeUpstream(link), FAST)
    joined = await join(relay)
    await relay.close()
    assert (await ending(joined.consumer)).code is CloseCode.NORMAL
    assert link.closed.is_set()


async def test_reopened_sockets_that_die_with_nothing_new_spend_the_reopen_budget() -> None:
    # Every socket TikTok gives back replays message 11 and dies: after the first, nothing new ever comes.
    links = [FakeLink() for _ in range(5)]
    for link in links:
        link.push(chat(11, "hello"))
        link.drop()
    upstream = FakeUpstream(*links)
    relay = Relay(upstream, FAST)
    joined = await join(relay)
    assert await comments(joined.consumer, 1) == ["hello"]
    assert (await ending(joined.consumer)).code is CloseCode.TIKTOK_CLOSED_CONNECTION
    assert upstream.opens == 1 + FAST.reconnect_attempts  # not one per dying socket, forever


async def test_a_streamers_session_also_serves_its_room_by_id() -> None:
    link = FakeLink()
    upstream = FakeUpstream(link)
    relay = Relay(upstream, FAST)
    by_name = await join(relay, "emu")
    by_id = await join(relay, "room:7390")  # relay mode names the room by id
    assert upstream.opens == 1
    link.push(chat(11, "hello"))
    assert await comments(by_name.consumer, 1) == await comments(by_id.consumer, 1) == ["hello"]
    await relay.close()


async def test_a_late_relay_mode_client_gets_the_recent_frames_as_bytes_only() -> None:
    link = FakeLink()
    relay = Relay(FakeUpstream(link), FAST)
    first = await join(relay)
    link.push(chat(11, "hello"))
    assert await comments(first.consumer, 1) == ["hello"]
    late = await join(relay, since_ms=0)
    replayed = await asyncio.wait_for(late.consumer.next(), 2)
    assert isinstance(replayed, Delivery)
    assert replayed.raw  # the frame as TikTok sent it, for the client to decode
    assert replayed.events == ()  # decoded events are not kept for replay (memory: 10 KB a frame)
    await relay.close()
