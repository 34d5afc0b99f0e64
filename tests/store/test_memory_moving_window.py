"""The in-process moving window (store/memory_moving_window.py): the library's decisions and stats, at a
constant cost per hit, with nothing for the garbage collector to walk."""

from __future__ import annotations

import asyncio
import gc
import time

from limits import RateLimitItemPerHour
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from ttsign.signing import default_profile
from ttsign.store.memory_moving_window import MemoryMovingWindow, window_for
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import ConnectBudget, Identity


async def test_decides_as_the_librarys_acquire_entry() -> None:
    window, theirs = MemoryMovingWindow(), MemoryStorage()
    amounts = [1, 2, 1, 1, 3, 1, 2, 1, 5]
    decided = [window.acquire("k", 4, 3600, amount) for amount in amounts]
    expected = [await theirs.acquire_entry("k", 4, 3600, amount) for amount in amounts]
    assert decided == expected == [True, True, True, False, False, False, False, False, False]


async def test_stats_are_the_librarys_moving_window_stats() -> None:
    window, theirs = MemoryMovingWindow(), MovingWindowRateLimiter(MemoryStorage())
    item = RateLimitItemPerHour(5)
    assert window.stats("k", 5, 3600)[0] == (await theirs.get_window_stats(item, "k")).remaining == 5
    for _ in range(3):
        window.acquire("k", 5, 3600)
        await theirs.hit(item, "k")
    remaining, reset_at = window.stats("k", 5, 3600)
    stats = await theirs.get_window_stats(item, "k")
    assert remaining == stats.remaining == 2
    assert abs(reset_at - stats.reset_time) < 1.0  # the oldest hit's expiry, an hour from now
    assert abs(reset_at - (time.time() + 3600)) < 5.0


async def test_a_hit_starts_no_task() -> None:
    window = MemoryMovingWindow()
    before = len(asyncio.all_tasks())
    assert window.acquire("k", 5, 3600)
    assert len(asyncio.all_tasks()) == before
    await MemoryStorage().acquire_entry("other", 5, 3600)  # the library's own hit schedules its expiry task
    assert len(asyncio.all_tasks()) == before + 1


def test_hits_leave_nothing_for_the_collector_to_walk() -> None:
    window = MemoryMovingWindow()
    window.acquire("k", 1_000_000, 3600)
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(20_000):
        assert window.acquire("k", 1_000_000, 3600)
    # The library's storage would hold 20,000 more tracked entries here.
    assert len(gc.get_objects()) - before < 100
    assert window.stats("k", 1_000_000, 3600)[0] == 1_000_000 - 20_001


def test_expired_hits_leave_and_expired_keys_are_swept() -> None:
    now = [time.time()]
    window = MemoryMovingWindow(clock=lambda: now[0], sweep_every_s=10)
    assert window.acquire("old", 1, 5) and window.acquire("kept", 1, 3600)
    assert not window.acquire("old", 1, 5)
    now[0] += 6  # "old"'s hit expired: the window has room again
    assert window.stats("old", 1, 5) == (1, now[0] + 5)
    assert window.acquire("old", 1, 5)
    assert window.stats("old", 1, 5) == (0, now[0] + 5)
    now[0] += 11  # past the sweep time, and "old" expired again
    assert window.acquire("third", 1, 3600)
    assert window.keys_held() == 2  # "kept" and "third"
    assert window.stats("kept", 1, 3600)[0] == 0


async def test_budgets_over_one_storage_share_their_counts() -> None:
    storage = MemoryStorage()
    budget, reader = ConnectBudget(per_hour=3, storage=storage), ConnectBudget(per_hour=3, storage=storage)
    identity = Identity("1", default_profile(), CookieJar(), created_at=0.0)
    before = len(asyncio.all_tasks())
    assert [await budget.spend(identity, 2), await budget.spend(identity, 2), await budget.spend(identity)] == [
        True,
        False,
        True,
    ]
    assert len(asyncio.all_tasks()) == before
    assert await reader.remaining(identity) == 0
    assert await ConnectBudget(per_hour=3).remaining(identity) == 3  # another storage: counts of its own
    assert window_for(storage) is window_for(storage)
