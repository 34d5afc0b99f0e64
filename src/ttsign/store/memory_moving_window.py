"""A moving-window hit in the `limits` library's async MemoryStorage, as one plain function call.

The library's `acquire_entry` schedules an asyncio task on every hit that walks every key and hands a
bisect to a worker thread (`asyncio.to_thread`) under the key's lock: a task and a thread round trip per
counted connect, a fifth of a direct connect's CPU. Here the same entries are written the same way (newest
first, `Entry` objects, the library's rule for a full window), so the library's `get_moving_window` and
`get_window_stats` read these counts; expired entries are dropped from the key being hit, and keys whose
every entry expired are swept at most every `sweep_every_s`, so memory stays bounded by the keys hit in the
last window.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from limits.aio.storage import MemoryStorage
from limits.aio.storage.memory import Entry

_SWEEP_EVERY_S = 60.0


class MemoryMovingWindow:
    """Moving-window counting in a MemoryStorage that the library's own readers share."""

    def __init__(
        self, storage: MemoryStorage, *, clock: Callable[[], float] = time.time, sweep_every_s: float = _SWEEP_EVERY_S
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._sweep_every_s = sweep_every_s
        self._next_sweep = clock() + sweep_every_s

    def acquire(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool | None:
        """Whether `amount` entries fit in the window (then they are counted), as `acquire_entry` decides.
        None when the library's own expiry task holds the key (it is mid-await): ask the library then."""
        lock = self._storage.locks.get(key)
        if lock is not None and lock.locked():
            return None
        if amount > limit:
            return False
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        events = self._storage.events.setdefault(key, [])
        while events and events[-1].expiry <= now:  # newest first: the expired ones are the tail
            events.pop()
        if len(events) > limit - amount and events[limit - amount].atime >= now - expiry:
            return False
        events[:0] = [Entry(expiry)] * amount
        return True

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._sweep_every_s
        events, locks = self._storage.events, self._storage.locks
        for key in [key for key, entries in events.items() if not entries or entries[0].expiry <= now]:
            lock = locks.get(key)
            if lock is None or not lock.locked():
                events.pop(key, None)
                locks.pop(key, None)
