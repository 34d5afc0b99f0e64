"""Rooms shared by replicas through a real Redis (relay/shared.py, store/redis_relay.py): two relays in one
test, each with its own scripted TikTok. One socket per room across both; the other replica relays the
owner's frames; when the owner goes (closes, or its lease runs out) the other takes the room over and its
consumers see every message once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from tests.relay.fakes import FakeLink, FakeUpstream, chat, control
from tests.relay.test_session import comments, ending, join
from ttsign.relay import CloseCode, Relay, SessionPolicy
from ttsign.relay.shared import SharedUpstream
from ttsign.relay.upstream import OpenFailure
from ttsign.store.redis_relay import RelayExchange, relay_client

pytestmark = pytest.mark.timeout(30)

LEASE_S = 0.6
POLICY = SessionPolicy(queue_size=16, grace_s=0.1, reconnect_attempts=3, backoff_s=0.05)


class Replicas:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.exchanges: list[RelayExchange] = []

    def relay(self, name: str, tiktok: FakeUpstream) -> Relay:
        exchange = RelayExchange(relay_client(REDIS_URL), replica=name, prefix=self.prefix)
        self.exchanges.append(exchange)
        return Relay(SharedUpstream(tiktok, exchange, lease_s=LEASE_S), POLICY)


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    require_redis()
    prefix = new_prefix()
    yield Replicas(prefix)
    delete_prefix(prefix)


async def test_one_tiktok_socket_serves_consumers_on_both_replicas(replicas: Replicas) -> None:
    link = FakeLink()
    tiktok_a, tiktok_b = FakeUpstream(link), FakeUpstream(FakeLink())
    a, b = replicas.relay("a", tiktok_a), replicas.relay("b", tiktok_b)
    on_a = await join(a)
    on_b = await join(b)
    assert on_b.room.room_id == on_a.room.room_id == "7390"
    link.push(chat(11, "hello"))
    link.push(chat(12, "world"), control(99, 3))
    assert await comments(on_a.consumer, 2) == ["hello", "world"]
    assert await comments(on_b.consumer, 2) == ["hello", "world"]
    assert (await ending(on_b.consumer)).code is CloseCode.STREAM_END
    assert (tiktok_a.opens, tiktok_b.opens) == (1, 0)  # b never opened TikTok
    await a.close()
    await b.close()


async def test_the_owner_keeps_its_socket_while_another_replica_watches(replicas: Replicas) -> None:
    link = FakeLink()
    a, b = replicas.relay("a", FakeUpstream(link)), replicas.relay("b", FakeUpstream())
    on_a = await join(a)
    on_b = await join(b)
    a.leave(on_a)  # a has no consumer of its own now
    await asyncio.sleep(POLICY.grace_s * 5)
    assert not link.closed.is_set()
    link.push(chat(11, "still here"))
    assert await comments(on_b.consumer, 1) == ["still here"]
    await a.close()
    await b.close()


async def test_when_the_owner_closes_another_replica_takes_the_room_over(replicas: Replicas) -> None:
    first, second = FakeLink(), FakeLink()
    tiktok_b = FakeUpstream(second)
    a, b = replicas.relay("a", FakeUpstream(first)), replicas.relay("b", tiktok_b)
    await join(a)
    on_b = await join(b)
    first.push(chat(11, "from a"))
    assert await comments(on_b.consumer, 1) == ["from a"]
    await a.close()  # the owner goes away cleanly: releases the lease, tells the watchers
    second.push(chat(11, "from a"), chat(12, "from b"))  # b's own socket replays 11: relayed once
    assert await comments(on_b.consumer, 1) == ["from b"]
    assert tiktok_b.opens == 1
    await b.close()


async def test_when_the_owner_dies_its_lease_runs_out_and_another_takes_over(replicas: Replicas) -> None:
    first, second = FakeLink(), FakeLink()
    tiktok_b = FakeUpstream(second)
    a, b = replicas.relay("a", FakeUpstream(first)), replicas.relay("b", tiktok_b)
    on_a = await join(a)
    on_b = await join(b)
    # a "dies": its lease is no longer renewed (the renewal task stops) and it says nothing to anyone.
    session = a.rooms["emu"]
    owner = session._link
    assert owner is not None
    owner._renewing.cancel()  # type: ignore[attr-defined]
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(tiktok_b.opened.wait(), LEASE_S * 6)
    assert asyncio.get_running_loop().time() - started < LEASE_S * 6
    second.push(chat(21, "after the takeover"))
    assert await comments(on_b.consumer, 1) == ["after the takeover"]
    a.leave(on_a)
    await a.close()
    await b.close()


async def test_a_room_that_is_not_live_is_refused_on_both_replicas(replicas: Replicas) -> None:
    a = replicas.relay("a", FakeUpstream(OpenFailure(CloseCode.NOT_LIVE, "room_not_live")))
    b = replicas.relay("b", FakeUpstream(OpenFailure(CloseCode.NOT_LIVE, "room_not_live")))
    first, second = await asyncio.gather(a.join("emu"), b.join("emu"))
    assert {getattr(first, "code", None), getattr(second, "code", None)} == {CloseCode.NOT_LIVE}
    await a.close()
    await b.close()
