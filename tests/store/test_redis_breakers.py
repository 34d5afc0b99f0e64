"""Breaker transitions on Redis: heard live, listed while open, bounded, and an outage survived."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

import pytest
from redis.asyncio import Redis

from tests.redis_db import REDIS_URL, PrivateRedis, delete_prefix, free_port, new_prefix, require_redis
from ttsign.service.breaker_sharing import BreakerSharing
from ttsign.store.base import BreakerEvent, StoreUnavailable
from ttsign.store.redis import redis_client
from ttsign.store.redis_breakers import RedisBreakerExchange, decode_event, encode_event
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy, BreakerState


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    require_redis()
    prefix = new_prefix()
    client = redis_client(REDIS_URL, timeout_s=0.5)
    yield client, prefix
    await client.aclose()
    delete_prefix(prefix)


async def next_event(events: AsyncGenerator[BreakerEvent | None, None]) -> BreakerEvent | None:
    return await asyncio.wait_for(anext(events), 2.0)


def test_events_round_trip_and_foreign_messages_are_ignored() -> None:
    for event in (BreakerEvent("room", "7", 1700000000.25, "a1"), BreakerEvent("identity", "ab" * 16, None, "b2")):
        assert decode_event(encode_event(event)) == event
    for garbage in ("", "{", "[]", '{"scope": "room"}', '{"scope":"room","key":"7","reopens_at":"x","origin":""}'):
        assert decode_event(garbage) is None
    assert decode_event(encode_event(BreakerEvent("room", "x" * 600, None, "a"))) is None
    assert decode_event('{"scope":"room","key":"7","reopens_at":NaN,"origin":""}') is None


async def test_a_listener_hears_opens_and_closes_and_a_late_one_gets_the_open_list(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    exchange = RedisBreakerExchange(client, prefix=prefix)
    now = time.time()
    async with aclosing(exchange.listen()) as early:
        assert await next_event(early) is None  # subscribed, nothing open yet
        await client.publish(f"{prefix}breaker-events", "not json")  # someone else's message: skipped
        await exchange.publish(BreakerEvent("room", "7", now + 30, "a"))
        await exchange.publish(BreakerEvent("room", "8", now + 30, "a"))
        await exchange.publish(BreakerEvent("identity", "d" * 32, now + 60, "a"))
        await exchange.publish(BreakerEvent("room", "8", None, "a"))
        await exchange.publish(BreakerEvent("room", "9", now - 1, "a"))  # over already: not listed
        heard = [await next_event(early) for _ in range(5)]
    assert [(e.key, e.reopens_at) for e in heard if e is not None] == [
        ("7", now + 30),
        ("8", now + 30),
        ("d" * 32, now + 60),
        ("8", None),
        ("9", now - 1),
    ]
    async with aclosing(exchange.listen()) as late:
        listed = [await next_event(late) for _ in range(3)]
    assert listed[-1] is None
    assert sorted((e.scope, e.key, e.reopens_at) for e in listed if e is not None) == [
        ("identity", "d" * 32, pytest.approx(now + 60)),
        ("room", "7", pytest.approx(now + 30)),
    ]
    ttl_ms = await client.pttl(f"{prefix}breakers-open")
    assert 55_000 < ttl_ms <= 60_000  # the list expires with its last breaker


async def test_the_open_list_holds_at_most_max_keys_keeping_the_longest(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    exchange = RedisBreakerExchange(client, prefix=prefix, max_keys=5)
    now = time.time()
    for n in range(12):
        await exchange.publish(BreakerEvent("room", str(n), now + 10 + n, "a"))
    assert await client.zcard(f"{prefix}breakers-open") == 5
    assert await client.zrange(f"{prefix}breakers-open", 0, -1) == [f"room:{n}" for n in range(7, 12)]


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.3)
    exchange = RedisBreakerExchange(client, prefix="ttsign-test:none:")
    try:
        with pytest.raises(StoreUnavailable):
            await exchange.publish(BreakerEvent("room", "7", time.time() + 5, "a"))
        with pytest.raises(StoreUnavailable):
            async with aclosing(exchange.listen()) as events:
                await next_event(events)
    finally:
        await client.aclose()


def sharing_over(url: str, prefix: str) -> tuple[BreakerSharing, BreakerBoard, Redis]:
    client = redis_client(url, timeout_s=0.3)
    sharing = BreakerSharing(RedisBreakerExchange(client, prefix=prefix), retry_s=0.1)
    board = BreakerBoard("room", BreakerPolicy(1, 30.0), on_transition=sharing.observe)
    sharing.track(board)
    return sharing, board, client


@pytest.mark.timeout(60)
async def test_sharing_survives_a_redis_restart_logging_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ttsign.service.breaker_sharing")
    server = PrivateRedis().start()
    restarted = PrivateRedis(server.port)
    (a, board_a, client_a), (b, board_b, client_b) = sharing_over(server.url, "t:"), sharing_over(server.url, "t:")
    try:
        async with a.running(), b.running():
            await asyncio.wait_for(asyncio.gather(a.caught_up.wait(), b.caught_up.wait()), 5.0)
            server.shutdown()
            board_a.record_failure("7")
            assert board_a.check("7") is not None  # local breakers keep working while Redis is gone
            await asyncio.sleep(0.5)
            assert board_b.state("7") is BreakerState.CLOSED
            restarted.start()
            # Both reconnect by themselves; a's open is still news, so it is published once Redis answers.
            deadline = time.monotonic() + 10
            while board_b.state("7") is not BreakerState.OPEN:
                assert time.monotonic() < deadline, "b never heard of the breaker a opened during the outage"
                await asyncio.sleep(0.05)
            board_a.record_success("7")
            deadline = time.monotonic() + 2
            while board_b.state("7") is not BreakerState.CLOSED:
                assert time.monotonic() < deadline, "b never heard the breaker closed"
                await asyncio.sleep(0.02)
    finally:
        await client_a.aclose()
        await client_b.aclose()
        server.kill()
        restarted.kill()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # once per replica for the outage, not once per retry
    assert all("per process" in r.getMessage() for r in warnings)
