"""Rate limits per key, per IP and for anonymous callers, over minute/hour/day windows.

Counting is the `limits` library's (strategy apart from storage): fixed windows, so every replica
sharing one storage (memory in-process, Redis across replicas) agrees on the count and on the reset
time it reports. Limits are checked before any signing or upstream work.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from ttsign.store.base import StoreUnavailable

_ITEMS: dict[str, Callable[[int], RateLimitItem]] = {
    "minute": RateLimitItemPerMinute,
    "hour": RateLimitItemPerHour,
    "day": RateLimitItemPerDay,
}
Window = tuple[str, int]  # (label, requests allowed in it)


@lru_cache(maxsize=256)
def _item(label: str, limit: int) -> RateLimitItem:
    """The limits library's item for a window; immutable, so one per (label, limit) serves every request."""
    return _ITEMS[label](limit)


@dataclass(frozen=True)
class WindowState:
    label: str
    limit: int
    remaining: int
    reset_at: float  # unix seconds when the window starts afresh


@dataclass(frozen=True)
class Decision:
    allowed: bool
    subject: str
    refused_by: WindowState | None = None  # the window that said no
    tightest: WindowState | None = None  # for success headers: the window with the fewest requests left

    def retry_after_s(self, now: float) -> int:
        if self.refused_by is None:
            return 0
        return max(1, math.ceil(self.refused_by.reset_at - now))


class RateLimiter:
    """Counts hits for a subject ("key:<id>", "ip:<addr>", "anon:<addr>") across its windows."""

    def __init__(self, storage: Storage | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage or MemoryStorage()
        self._strategy = FixedWindowRateLimiter(self.storage)
        self._clock = clock

    async def hit(self, subject: str, windows: Sequence[Window], *, with_state: bool = False) -> Decision:
        """Consume one request from every window, shortest first; stop at the first that refuses.

        Raises StoreUnavailable when a shared storage (Redis) does not answer.
        """
        try:
            return await self._hit(subject, windows, with_state)
        except StorageError as exc:
            raise StoreUnavailable(f"rate-limit storage: {type(exc.storage_error).__name__}") from exc

    async def _hit(self, subject: str, windows: Sequence[Window], with_state: bool) -> Decision:
        tightest: WindowState | None = None
        for label, limit in windows:
            item = _item(label, limit)
            allowed = await self._strategy.hit(item, subject)
            if not allowed or with_state:  # window stats cost a second storage call: only when wanted
                stats = await self._strategy.get_window_stats(item, subject)
                state = WindowState(label, limit, stats.remaining, stats.reset_time)
                if not allowed:
                    return Decision(False, subject, refused_by=state)
                if tightest is None or state.remaining < tightest.remaining:
                    tightest = state
        return Decision(True, subject, tightest=tightest)

    async def peek(self, subject: str, windows: Sequence[Window]) -> list[WindowState]:
        """Where each window stands, without consuming anything (for /webcast/rate_limits)."""
        states = []
        try:
            for label, limit in windows:
                stats = await self._strategy.get_window_stats(_item(label, limit), subject)
                states.append(WindowState(label, limit, stats.remaining, stats.reset_time))
        except StorageError as exc:
            raise StoreUnavailable(f"rate-limit storage: {type(exc.storage_error).__name__}") from exc
        return states

    def now(self) -> float:
        return self._clock()
