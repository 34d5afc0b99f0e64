"""Usage stores (memory, SQLite, Redis) agree: counts add up per bucket, roll up into hours, rank rooms,
total per day, and forget what is past its retention."""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from ttsign.store.redis import redis_client
from ttsign.store.usage import HOUR_S, MemoryUsageStore, UsageBatch, UsagePoint, UsageStore
from ttsign.store.usage_redis import RedisUsageStore
from ttsign.store.usage_sqlite import SqliteUsageStore, usage_path


@dataclass(frozen=True)
class Moments:
    """The clock as a test starts, not as the module was imported: the suite may have run for minutes since,
    and Redis expires a minute bucket two hours after its minute, against its own clock."""

    now: int
    this_minute: int
    this_hour: int
    previous_hour: int


@pytest.fixture
def at() -> Moments:
    now = int(time.time())
    this_hour = now - now % HOUR_S
    return Moments(now, now - now % 60, this_hour, this_hour - HOUR_S)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UsageStore]:
    if request.param == "memory":
        yield MemoryUsageStore()
    elif request.param == "sqlite":
        sqlite = SqliteUsageStore(usage_path(tmp_path / "state" / "ttsign.sqlite3"))
        yield sqlite
        await sqlite.close()
    else:
        require_redis()
        prefix = new_prefix()
        client = redis_client(REDIS_URL, timeout_s=1)
        yield RedisUsageStore(client, prefix=prefix)
        await client.aclose()
        delete_prefix(prefix)


def batch(minutes: dict[tuple[str, str, int], int], rooms: dict[tuple[str, str, int], int] | None = None) -> UsageBatch:
    return UsageBatch(Counter(minutes), Counter(rooms or {}))


async def test_counts_add_up_per_minute_and_roll_up_per_hour(store: UsageStore, at: Moments) -> None:
    # Two minutes of the previous hour: both past, both kept, one hour apart from nothing.
    first, second = at.previous_hour + 60, at.previous_hour + 120
    await store.add(batch({("key:a", "requests", first): 2, ("key:a", "requests", second): 3}))
    await store.add(batch({("key:a", "requests", second): 4, ("key:a", "refused:empty_200", second): 1}))
    await store.add(batch({("key:b", "requests", second): 100}))
    assert await store.series("key:a", "minute", at.previous_hour) == [
        UsagePoint(first, "requests", 2),
        UsagePoint(second, "refused:empty_200", 1),
        UsagePoint(second, "requests", 7),
    ]
    assert await store.series("key:a", "hour", at.previous_hour) == [
        UsagePoint(at.previous_hour, "refused:empty_200", 1),
        UsagePoint(at.previous_hour, "requests", 9),
    ]


async def test_top_rooms_and_daily_totals(store: UsageStore, at: Moments) -> None:
    hour, minute = at.this_hour, at.this_minute
    rooms = {("key:a", "111", hour): 5, ("key:a", "222", hour): 9, ("key:a", "333", hour - HOUR_S): 1}
    await store.add(batch({("key:a", "connects", minute): 15, ("key:b", "connects", minute): 2}, rooms))
    await store.add(batch({}, {("key:a", "111", hour): 5}))
    assert await store.top_rooms("key:a", hour - 2 * HOUR_S, 2) == [("111", 10), ("222", 9)]
    totals = await store.totals(at.now)
    assert totals["key:a"]["connects"] == 15 and totals["key:b"]["connects"] == 2


@pytest.mark.parametrize("kind", ["memory", "sqlite"])  # Redis expires its buckets: test_redis_buckets_expire
async def test_old_buckets_are_forgotten(kind: str, tmp_path: Path, at: Moments) -> None:
    store: UsageStore = MemoryUsageStore() if kind == "memory" else SqliteUsageStore(tmp_path / "usage.sqlite3")
    old_minute = at.this_minute - 3 * HOUR_S
    await store.add(batch({("key:a", "requests", old_minute): 1, ("key:a", "requests", at.this_minute): 1}))
    await store.prune(at.now)
    minutes = await store.series("key:a", "minute", 0)
    assert [p.start for p in minutes] == [at.this_minute]
    assert [p.start for p in await store.series("key:a", "hour", 0)] == sorted(
        {old_minute - old_minute % HOUR_S, at.this_hour}
    )


async def test_redis_buckets_expire(at: Moments) -> None:
    require_redis()
    prefix = new_prefix()
    client = redis_client(REDIS_URL, timeout_s=1)
    minute, hour = at.this_minute, at.this_hour
    try:
        await RedisUsageStore(client, prefix=prefix).add(batch({("key:a", "requests", minute): 1}))
        minute_ttl = await client.ttl(f"{prefix}usage:m:key:a:{minute}")
        hour_ttl = await client.ttl(f"{prefix}usage:h:key:a:{hour}")
        assert 2 * HOUR_S - 120 < minute_ttl <= 2 * HOUR_S + 60
        assert 30 * 24 * HOUR_S - 2 * HOUR_S < hour_ttl <= 30 * 24 * HOUR_S + HOUR_S
    finally:
        await client.aclose()
        delete_prefix(prefix)


def test_the_sqlite_usage_file_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = usage_path(tmp_path / "fresh" / "ttsign.sqlite3")
        SqliteUsageStore(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
