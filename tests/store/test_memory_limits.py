"""Rate-limit windows counted in one step: the in-process batch, and the contract it shares with Redis's.

A WindowBatch must count the `limits` library's own keys by the library's own rule, or `peek` (which
reads through the library) and the batch would disagree; the contract tests mix both paths on one storage.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage

from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from ttsign.service.admission import AccessPolicy, Admission, Admitted, Credentials, Denied
from ttsign.service.keys import KeyService
from ttsign.service.limits import RateLimiter
from ttsign.store.backends import open_backends
from ttsign.store.base import Limits, WindowBatch
from ttsign.store.memory import MemoryWindowBatch
from ttsign.store.redis import redis_client
from ttsign.store.redis_limits import RedisWindowBatch, rate_limit_storage


@dataclass
class Counting:
    """One rate-limit storage seen three ways: the library's path, the batched path, the batch itself."""

    plain: RateLimiter
    batched: RateLimiter
    batch: WindowBatch


@pytest.fixture(params=["memory", "redis"])
async def counting(request: pytest.FixtureRequest) -> AsyncIterator[Counting]:
    if request.param == "memory":
        storage = MemoryStorage()
        batch: WindowBatch = MemoryWindowBatch(storage)
        yield Counting(RateLimiter(storage), RateLimiter(storage, batch=batch), batch)
        return
    require_redis()
    prefix = new_prefix()
    redis_storage, pool = rate_limit_storage(REDIS_URL, prefix=prefix)
    client = redis_client(REDIS_URL)
    batch = RedisWindowBatch(client, prefix=prefix)
    yield Counting(RateLimiter(redis_storage), RateLimiter(redis_storage, batch=batch), batch)
    await client.aclose()
    await pool.aclose()
    delete_prefix(prefix)


async def test_a_batch_counts_each_window_and_gives_its_reset(counting: Counting) -> None:
    counters = [("w:a", 3, 60), ("w:b", 10, 3600)]
    first = await counting.batch.hit(counters)
    second = await counting.batch.hit(counters)
    assert [count for count, _ in first] == [1, 1] and [count for count, _ in second] == [2, 2]
    for (_, reset_in), (_, _, expiry) in zip(second, counters, strict=True):
        assert expiry - 2 <= reset_in <= expiry  # the window started at the first hit, not the second


async def test_a_batch_stops_after_the_first_window_over_its_limit(counting: Counting) -> None:
    counters = [("w:a", 2, 60), ("w:b", 10, 3600)]
    for _ in range(2):
        assert len(await counting.batch.hit(counters)) == 2
    refused = await counting.batch.hit(counters)
    assert [count for count, _ in refused] == [3]  # w:b was not counted
    assert [count for count, _ in await counting.batch.hit(counters[1:])] == [3]


async def test_peek_reads_what_the_batch_counted_and_both_paths_share_a_window(counting: Counting) -> None:
    """What guards against the `limits` internals the batches rely on (key names, expiry, the rule)."""
    ip, key = "ip:10.0.0.1", "key:k1"
    groups = [(ip, [("minute", 5), ("hour", 8)]), (key, [("minute", 3)])]
    outcomes = []
    for call in range(6):
        limiter = counting.plain if call % 2 else counting.batched
        outcomes.append([(d.subject, d.allowed) for d in await limiter.hit_many(groups)])
    assert outcomes[:3] == [[(ip, True), (key, True)]] * 3
    assert outcomes[3:5] == [[(ip, True), (key, False)]] * 2  # the key's minute refuses
    assert outcomes[5] == [(ip, False)]  # the address's minute refuses first: the key is not counted
    states = await counting.batched.peek(ip, [("minute", 5), ("hour", 8)])
    assert [(s.label, s.remaining) for s in states] == [("minute", 0), ("hour", 3)]  # the refusal stopped there
    assert [s.remaining for s in await counting.batched.peek(key, [("minute", 3)])] == [0]
    minute = (await counting.plain.peek(ip, [("minute", 5)]))[0]
    refused = (await counting.batched.hit_many(groups))[0].refused_by
    assert refused is not None and refused.label == "minute" and refused.remaining == 0
    assert abs(refused.reset_at - minute.reset_at) <= 1.0  # the same window, the same reset time
    assert 0 < refused.reset_at - time.time() <= 60


async def test_batched_success_states_name_the_tightest_window(counting: Counting) -> None:
    windows = [("minute", 5), ("hour", 3)]
    [ok] = await counting.batched.hit_many([("key:p", windows)], with_state=True)
    assert ok.allowed and ok.tightest is not None and (ok.tightest.label, ok.tightest.remaining) == ("hour", 2)
    assert 3590 < ok.tightest.reset_at - time.time() <= 3600
    plain = await counting.plain.hit("key:p", windows, with_state=True)  # the library's path agrees
    assert plain.tightest is not None and (plain.tightest.label, plain.tightest.remaining) == ("hour", 1)
    [unasked] = await counting.batched.hit_many([("key:p", windows)])
    assert unasked.allowed and unasked.tightest is None


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_memory_reset_times_are_exact_and_a_window_restarts_after_its_expiry() -> None:
    clock = Clock()
    batch = MemoryWindowBatch(MemoryStorage(), clock=clock)
    counters = [("w:m", 2, 60), ("w:h", 5, 3600)]
    assert await batch.hit(counters) == [(1, 60.0), (1, 3600.0)]
    clock.now += 20
    assert await batch.hit(counters) == [(2, 40.0), (2, 3580.0)]
    clock.now += 39.5
    assert await batch.hit(counters) == [(3, 0.5)]  # over the minute's limit, the hour is not counted
    clock.now += 0.5  # the minute's expiry: it starts afresh, the hour goes on
    assert await batch.hit(counters) == [(1, 60.0), (3, 3540.0)]


async def test_memory_batch_counts_on_top_of_the_librarys_own_increments() -> None:
    storage = MemoryStorage()
    item = RateLimitItemPerMinute(5)
    await storage.incr(item.key_for("ip:x"), item.get_expiry())  # the library's path, as RateLimiter.hit
    [(count, reset_in)] = await MemoryWindowBatch(storage).hit([(item.key_for("ip:x"), 5, 60)])
    assert count == 2 and 58 < reset_in <= 60  # its expiry, not a new one
    assert await storage.get(item.key_for("ip:x")) == 2


async def test_memory_batch_sweeps_expired_windows_every_few_seconds() -> None:
    clock = Clock(time.time())  # real time: the library's own incr below stamps its expiry with it
    storage = MemoryStorage()
    batch = MemoryWindowBatch(storage, clock=clock, sweep_every_s=10.0)
    minute, hour = RateLimitItemPerMinute(100), RateLimitItemPerHour(100)
    for n in range(50):
        await batch.hit([(minute.key_for(f"ip:{n}"), 100, 60), (hour.key_for(f"ip:{n}"), 100, 3600)])
    await storage.incr("via-library", 60)  # leaves a per-key lock behind (limits >= 4.1)
    assert len(storage.storage) == 101

    clock.now += 61  # every minute window has expired, and the last sweep is over 10 s ago
    await batch.hit([(minute.key_for("ip:new"), 100, 60)])
    gone = {minute.key_for(f"ip:{n}") for n in range(50)} | {"via-library"}
    assert not gone & (set(storage.storage) | set(storage.expirations) | set(getattr(storage, "locks", {})))
    assert len(storage.storage) == len(storage.expirations) == 51  # the hours and the new minute

    clock.now += 5  # within the interval, an expired window waits for the next sweep
    await batch.hit([("w:short", 100, 1)])
    clock.now += 2
    await batch.hit([(hour.key_for("ip:1"), 100, 3600)])
    assert "w:short" in storage.storage
    clock.now += 3  # 10 s after the last sweep
    await batch.hit([(hour.key_for("ip:1"), 100, 3600)])
    assert "w:short" not in storage.storage and "w:short" not in storage.expirations


async def test_the_embedded_default_counts_through_the_memory_batch(tmp_path: Path) -> None:
    """Wired as the app wires it: the (N+1)th request is refused by the right window, the library's
    own increment (and its per-call expiry task) is never used, and `peek` sees the counts."""
    backends = open_backends(store_path=tmp_path / "keys.sqlite3")
    try:
        assert isinstance(backends.limits_storage, MemoryStorage)
        assert isinstance(backends.limits_batch, MemoryWindowBatch)
        limiter = RateLimiter(backends.limits_storage, batch=backends.limits_batch)
        policy = AccessPolicy(
            anonymous_limits=Limits(per_minute=100, per_hour=3), per_ip_limits=Limits(per_minute=5, per_hour=100)
        )
        gate = Admission(KeyService(backends.keys), limiter, policy=policy)
        results = [await gate.admit(Credentials(), "10.0.0.1") for _ in range(4)]
        assert [isinstance(r, Admitted) for r in results] == [True, True, True, False]
        anon = results[3]
        assert isinstance(anon, Denied) and (anon.status, anon.limit_label) == (429, "hour")
        assert anon.message == "anonymous limit: 3 per hour" and 3500 < anon.retry_after_s <= 3600
        denied = await gate.admit(Credentials(), "10.0.0.1")  # the address's fifth this minute: still counted
        assert isinstance(denied, Denied) and denied.message == "anonymous limit: 3 per hour"
        by_ip = await gate.admit(Credentials(), "10.0.0.1")
        assert isinstance(by_ip, Denied) and by_ip.message == "too many requests from this address: 5 per minute"
        assert isinstance(await gate.admit(Credentials(), "10.0.0.2"), Admitted)  # another address
        states = await limiter.peek("anon:10.0.0.1", policy.anonymous_limits.windows())
        assert [(s.label, s.remaining) for s in states] == [("minute", 95), ("hour", 0)]
        assert backends.limits_storage.timer is None  # the library's incr would have started its task
    finally:
        await backends.keys.close()
        await backends.close()
