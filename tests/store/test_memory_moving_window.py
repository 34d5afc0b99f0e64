"""The in-process moving window (store/memory_moving_window.py): the library's decisions, no task per hit."""

from __future__ import annotations

import asyncio
import time

from limits.aio.storage import MemoryStorage

from ttsign.signing import default_profile
from ttsign.store.memory_moving_window import MemoryMovingWindow
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import ConnectBudget, Identity


async def test_decides_as_the_librarys_acquire_entry() -> None:
    ours, theirs = MemoryStorage(), MemoryStorage()
    window = MemoryMovingWindow(ours)
    amounts = [1, 2, 1, 1, 3, 1, 2, 1]
    decided = [window.acquire("k", 4, 3600, amount) for amount in amounts]
    expected = [await theirs.acquire_entry("k", 4, 3600, amount) for amount in amounts]
    assert decided == expected == [True, True, True, False, False, False, False, False]
    # The library reads what was written here.
    assert (await ours.get_moving_window("k", 4, 3600))[1] == 4


async def test_a_hit_starts_no_task() -> None:
    storage = MemoryStorage()
    window = MemoryMovingWindow(storage)
    before = len(asyncio.all_tasks())
    assert window.acquire("k", 5, 3600)
    assert len(asyncio.all_tasks()) == before
    await storage.acquire_entry("other", 5, 3600)  # the library's own hit schedules its expiry task
    assert len(asyncio.all_tasks()) == before + 1


async def test_expired_entries_leave_and_expired_keys_are_swept() -> None:
    storage = MemoryStorage()
    now = [time.time()]
    window = MemoryMovingWindow(storage, clock=lambda: now[0], sweep_every_s=10)
    assert window.acquire("old", 1, 5) and window.acquire("kept", 1, 3600)
    assert not window.acquire("old", 1, 5)
    now[0] += 6  # "old"'s entry expired: the window has room again
    assert window.acquire("old", 1, 5)
    assert len(storage.events["old"]) == 1
    now[0] += 11  # past the sweep time, and "old" expired again
    assert window.acquire("third", 1, 3600)
    assert set(storage.events) == {"kept", "third"}


async def test_a_key_the_librarys_expiry_holds_is_left_to_the_library() -> None:
    storage = MemoryStorage()
    async with storage.locks["k"]:
        assert MemoryMovingWindow(storage).acquire("k", 1, 60) is None


async def test_the_budget_counts_in_process_and_reads_back_through_the_library() -> None:
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
