"""Admission state on Redis: exact limit windows across replicas, room caps, token counts, outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from limits import RateLimitItemPerMinute
from redis.asyncio import Redis

from tests.redis_db import REDIS_URL, delete_prefix, free_port, new_prefix, require_redis
from ttsign.service.limits import RateLimiter
from ttsign.store.base import ConnectCounter, RoomLedger, StoreUnavailable
from ttsign.store.memory import MemoryConnectCounter, MemoryRoomLedger
from ttsign.store.redis import redis_client
from ttsign.store.redis_limits import (
    RedisConnectCounter,
    RedisRoomLedger,
    RedisWindowBatch,
    limits_uri,
    rate_limit_storage,
)


class Replicas:
    """N independent "replicas": each its own Redis clients, all on one database and prefix."""

    def __init__(self, prefix: str, count: int = 2) -> None:
        self.prefix = prefix
        self.limiters: list[RateLimiter] = []  # the limits library's storage, one window per round trip
        self.batched: list[RateLimiter] = []  # the same storage plus RedisWindowBatch, as the server runs
        self.clients: list[Redis] = []
        self._closers: list[Callable[[], Any]] = []
        for _ in range(count):
            storage, pool = rate_limit_storage(REDIS_URL, prefix=prefix)
            client = redis_client(REDIS_URL)
            self.limiters.append(RateLimiter(storage))
            self.batched.append(RateLimiter(storage, batch=RedisWindowBatch(client, prefix=prefix)))
            self.clients.append(client)
            self._closers += [pool.aclose, client.aclose]

    async def close(self) -> None:
        for close in self._closers:
            await close()


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    require_redis()
    prefix = new_prefix()
    group = Replicas(prefix)
    yield group
    await group.close()
    delete_prefix(prefix)


def test_limits_uri_keeps_host_port_and_db() -> None:
    assert limits_uri("redis://127.0.0.1:6379/13") == "async+redis://127.0.0.1:6379/13"
    assert limits_uri("rediss://h:1/0") == "async+rediss://h:1/0"
    with pytest.raises(ValueError, match="redis://"):
        limits_uri("http://x")


@pytest.mark.parametrize("kind", ["limiters", "batched"])
async def test_two_replicas_together_allow_exactly_n(replicas: Replicas, kind: str) -> None:
    a, b = getattr(replicas, kind)
    windows = [("minute", 20), ("hour", 1000)]
    decisions = await asyncio.gather(*((a if i % 2 else b).hit("key:exact", windows) for i in range(60)))
    assert sum(d.allowed for d in decisions) == 20
    refused = next(d for d in decisions if not d.allowed).refused_by
    assert refused is not None and refused.label == "minute" and refused.remaining == 0
    assert 0 < refused.reset_at - time.time() <= 60
    # Both replicas see the same window, and another subject is counted apart.
    assert [(s.label, s.remaining) for s in await b.peek("key:exact", [("minute", 20)])] == [("minute", 0)]
    assert (await a.hit("key:other", windows)).allowed


@pytest.fixture(params=["memory", "redis"])
async def ledgers(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RoomLedger, RoomLedger]]:
    """Two views of one room ledger, as two replicas have (memory: the same object; redis: two clients)."""
    if request.param == "memory":
        ledger = MemoryRoomLedger(window_s=100.0)
        yield ledger, ledger
        return
    require_redis()
    prefix = new_prefix()
    clients = [redis_client(REDIS_URL), redis_client(REDIS_URL)]
    yield (
        RedisRoomLedger(clients[0], prefix=prefix, window_s=100.0),
        RedisRoomLedger(clients[1], prefix=prefix, window_s=100.0),
    )
    for client in clients:
        await client.aclose()
    delete_prefix(prefix)


async def test_batched_windows_are_the_limits_librarys_own_counters(replicas: Replicas) -> None:
    """One round trip per request, the same keys and fixed-window rule as limits' storage: mixing the two
    paths counts one window, and a refusal stops the counting where the per-window path stops it."""
    plain, batched = replicas.limiters[0], replicas.batched[1]
    groups = [("ip:10.0.0.1", [("minute", 5), ("hour", 8)]), ("key:k1", [("minute", 3)])]
    outcomes = []
    for call in range(6):
        limiter = plain if call % 2 else batched
        decisions = await limiter.hit_many(groups)
        outcomes.append([(d.subject, d.allowed) for d in decisions])
    ip, key = "ip:10.0.0.1", "key:k1"
    assert outcomes[:3] == [[(ip, True), (key, True)]] * 3
    assert outcomes[3:5] == [[(ip, True), (key, False)]] * 2  # the key's minute refuses
    assert outcomes[5] == [(ip, False)]  # the address's minute refuses first: the key is not counted
    key_minute = f"{replicas.prefix}limits:{RateLimitItemPerMinute(3).key_for(key)}"
    assert int(await replicas.clients[0].get(key_minute)) == 5
    states = await plain.peek(ip, [("minute", 5), ("hour", 8)])
    assert [(s.label, s.remaining) for s in states] == [("minute", 0), ("hour", 3)]  # the refusal stopped there
    refused = (await batched.hit_many(groups))[0].refused_by
    assert refused is not None and refused.label == "minute" and 0 < refused.reset_at - time.time() <= 60


async def test_hit_many_stops_at_the_first_refusal_in_memory_too() -> None:
    limiter = RateLimiter()
    groups = [("ip:a", [("minute", 1)]), ("key:b", [("minute", 5)])]
    assert [d.allowed for d in await limiter.hit_many(groups)] == [True, True]
    assert [(d.subject, d.allowed) for d in await limiter.hit_many(groups)] == [("ip:a", False)]
    states = await limiter.peek("key:b", [("minute", 5)])
    assert states[0].remaining == 4  # counted once: the refused request never reached the key


async def test_room_cap_counts_distinct_rooms_per_window(ledgers: tuple[RoomLedger, RoomLedger]) -> None:
    a, b = ledgers
    now = time.time()
    assert await a.admit("key:k", "room1", 2, now) == (True, 0.0)
    assert await b.admit("key:k", "room2", 2, now + 1) == (True, 0.0)
    assert await a.admit("key:k", "room1", 2, now + 2) == (True, 0.0)  # a known room is always fine
    allowed, frees_at = await b.admit("key:k", "room3", 2, now + 3)
    assert not allowed and frees_at == pytest.approx(now + 100.0)  # when room1 (the oldest) leaves the window
    assert (await a.admit("key:other", "room3", 2, now + 3))[0]  # subjects are apart
    # Once room1 is out of the window, a new room fits again; room2 is still counted.
    assert await b.admit("key:k", "room3", 2, now + 100.5) == (True, 0.0)
    allowed, frees_at = await a.admit("key:k", "room4", 2, now + 100.6)
    assert not allowed and frees_at == pytest.approx(now + 101.0)


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[tuple[ConnectCounter, ConnectCounter]]:
    if request.param == "memory":
        counter = MemoryConnectCounter(time.time)
        yield counter, counter
        return
    require_redis()
    prefix = new_prefix()
    clients = [redis_client(REDIS_URL), redis_client(REDIS_URL)]
    yield RedisConnectCounter(clients[0], prefix=prefix), RedisConnectCounter(clients[1], prefix=prefix)
    for client in clients:
        await client.aclose()
    delete_prefix(prefix)


async def test_token_connections_are_counted_across_replicas(
    counters: tuple[ConnectCounter, ConnectCounter],
) -> None:
    a, b = counters
    expires = int(time.time()) + 60
    results = await asyncio.gather(*((a if i % 2 else b).take("tok1", 3, expires) for i in range(10)))
    assert sum(results) == 3
    assert await a.take("tok2", 1, expires) and not await b.take("tok2", 1, expires)


async def test_redis_token_counter_expires_with_the_token(replicas: Replicas) -> None:
    client = replicas.clients[0]
    counter = RedisConnectCounter(client, prefix=replicas.prefix)
    expires = int(time.time()) + 30
    assert await counter.take("t", 5, expires)
    ttl = await client.ttl(f"{replicas.prefix}jwtuses:t")
    assert 0 < ttl <= 30


async def test_unreachable_redis_is_a_fast_store_unavailable() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    storage, pool = rate_limit_storage(url, timeout_s=0.3)
    client = redis_client(url, timeout_s=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await RateLimiter(storage).hit("key:x", [("minute", 5)])
        with pytest.raises(StoreUnavailable):
            await RateLimiter(storage).peek("key:x", [("minute", 5)])
        with pytest.raises(StoreUnavailable):
            await RedisRoomLedger(client).admit("key:x", "r", 3, time.time())
        with pytest.raises(StoreUnavailable):
            await RedisConnectCounter(client).take("t", 3, int(time.time()) + 60)
        assert time.monotonic() - started < 2.0
    finally:
        await pool.aclose()
        await client.aclose()


async def test_a_burst_beyond_redis_pys_default_pool_waits_instead_of_failing(replicas: Replicas) -> None:
    """redis-py's default pool raises MaxConnectionsError past 100 commands in flight; ours waits."""
    limiter = replicas.limiters[0]
    decisions = await asyncio.gather(*(limiter.hit("key:burst", [("minute", 10_000)]) for _ in range(250)))
    assert all(d.allowed for d in decisions)
    client = replicas.clients[0]
    values = await asyncio.gather(*(client.incr(f"{replicas.prefix}burst") for _ in range(250)))
    assert sorted(values) == list(range(1, 251))
