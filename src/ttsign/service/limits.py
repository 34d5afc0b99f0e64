"""Rate limits per key, per IP and for anonymous callers, over minute/hour/day windows.

Counting is the `limits` library's (strategy apart from storage): fixed windows, so every replica
sharing one storage (memory in-process, Redis across replicas) agrees on the count and on the reset
time it reports. Limits are checked before any signing or upstream work.

A request is counted in up to five windows (its address's and its key's), and `limits` has no
multi-window hit, so a store may offer a `WindowBatch`: the same keys (the library's key names and
expiries, so `peek` still reads them through `limits`) counted by the same fixed-window rule at once.
With Redis the library's storage makes five round trips in a row, each costing the replica more CPU
than signing the request; the batch makes one. In memory there is no round trip, but the library's
async storage spends coroutines and a lock per window and, on most requests, a new task that scans
every key: CPU the batch, one plain loop, saves.
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

from ttsign.store.base import StoreUnavailable, WindowBatch

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


@lru_cache(maxsize=4096)  # ~2000 callers of two subjects each; a few MB at most
def _counters(subject: str, windows: tuple[Window, ...]) -> tuple[tuple[str, int, int], ...]:
    """A subject's windows as a WindowBatch counts them: (the library's own key, limit, expiry seconds) each.
    Built once per subject and set of windows while the subject keeps calling, not per request (a caller has
    two subjects: "ip:<addr>" and "anon:<addr>" or "key:<id>")."""
    items = [(_item(label, limit), limit) for label, limit in windows]
    return tuple((item.key_for(subject), limit, item.get_expiry()) for item, limit in items)


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


Group = tuple[str, Sequence[Window]]  # a subject and its windows


@lru_cache(maxsize=4096)
def _allowed(subject: str) -> Decision:
    """A request every window of `subject` let through, no state asked for: one value shared by all of
    them (a Decision is immutable), not a new one per request."""
    return Decision(True, subject)


class RateLimiter:
    """Counts hits for a subject ("key:<id>", "ip:<addr>", "anon:<addr>") across its windows."""

    def __init__(
        self,
        storage: Storage | None = None,
        *,
        batch: WindowBatch | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage or MemoryStorage()
        self._strategy = FixedWindowRateLimiter(self.storage)
        self._batch = batch
        self._clock = clock

    async def hit_many(self, groups: Sequence[Group], *, with_state: bool = False) -> list[Decision]:
        """`hit` for several subjects in order, stopping at the first refused; its decision comes last.

        One storage round trip when the store batches windows. Raises StoreUnavailable like `hit`.
        """
        batch = self._batch
        if batch is None:
            return await self._hit_each(groups, with_state)
        counters: tuple[tuple[str, int, int], ...] = ()
        for subject, windows in groups:
            counters += _counters(subject, tuple(windows))
        results = iter(await batch.hit(counters) if counters else [])
        now = self._clock()
        decisions: list[Decision] = []
        for subject, windows in groups:
            tightest: WindowState | None = None
            for label, limit in windows:
                counted = next(results, None)
                if counted is None:  # the store stopped at an earlier refusal: nothing more was counted
                    return decisions
                count, reset_in = counted
                if count > limit:
                    decisions.append(Decision(False, subject, refused_by=WindowState(label, limit, 0, now + reset_in)))
                    return decisions
                # A state per window only when asked for: most requests pass and need none.
                if with_state and (tightest is None or limit - count < tightest.remaining):
                    tightest = WindowState(label, limit, limit - count, now + reset_in)
            decisions.append(_allowed(subject) if tightest is None else Decision(True, subject, tightest=tightest))
        return decisions

    async def _hit_each(self, groups: Sequence[Group], with_state: bool) -> list[Decision]:
        decisions: list[Decision] = []
        for subject, windows in groups:
            decision = await self.hit(subject, windows, with_state=with_state)
            decisions.append(decision)
            if not decision.allowed:
                break
        return decisions

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
