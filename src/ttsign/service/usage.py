"""Usage accounting: what each caller used, counted off the request's critical path.

A request adds to in-memory counters (a few dict increments: no I/O, no lock, no task); a background task
flushes them to the usage store every few seconds in one batch (SQLite transaction or Redis pipeline).
If the store is down the batch is kept and retried with the next flush, bounded so memory cannot grow
without limit during a long outage (the oldest counts are dropped first, and a warning says so).

Anonymous callers are counted per address, but only as a digest: usage history never holds an address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import lru_cache

from ttsign.background import running_in_background
from ttsign.store.base import StoreUnavailable
from ttsign.store.usage import HOUR_S, MINUTE_S, RETENTION_S, STEP_S, Resolution, UsageBatch, UsagePoint, UsageStore

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 5.0
MAX_PENDING = 200_000  # buckets held while the store is down (about 20 MB at most)
PRUNE_EVERY_S = 3600.0


@lru_cache(maxsize=4096)
def subject_of(caller_label: str) -> str:
    """The usage subject of an admission label: `key:<id>` as is, `anon:<address>` as a digest."""
    if caller_label.startswith("anon:"):
        return "anon:" + hashlib.sha256(caller_label.encode("utf-8")).hexdigest()[:16]
    return caller_label


class UsageRecorder:
    def __init__(
        self,
        store: UsageStore,
        *,
        flush_every_s: float = FLUSH_EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._flush_every_s = flush_every_s
        self._clock = clock
        self._pending = UsageBatch()
        # The minute being counted, tallied per caller label with plain string keys; it joins the batch (as
        # subject, counter and minute keys) when the minute ends or a flush comes: a request then adds one to
        # a counter it shares with every other request of its caller this minute, instead of building and
        # hashing a key tuple per counter (a third of counting's cost, per request).
        self._minute = 0
        self._open: dict[str, _Tally] = {}

    def count(self, caller_label: str, *counters: str, room: str | None = None) -> None:
        """One use by a caller (no I/O), added to each of `counters` (a request and what it was, in one call:
        one clock read for both). `room`: the room it was for, counted for "top rooms"."""
        now = int(self._clock())
        minute = now - now % MINUTE_S
        if minute != self._minute:
            self._close_minute()
            self._minute = minute
        tally = self._open.get(caller_label)
        if tally is None:
            tally = self._open[caller_label] = _Tally()
        for counter in counters:
            tally.counts[counter] += 1
        if room:
            tally.rooms[room] += 1

    def _close_minute(self) -> None:
        """The open minute's tallies into the batch, keyed by subject (an address becomes its digest here)."""
        minute, hour = self._minute, self._minute - self._minute % HOUR_S
        minutes, rooms = self._pending.minutes, self._pending.rooms
        for caller_label, tally in self._open.items():
            subject = subject_of(caller_label)
            for counter, n in tally.counts.items():
                minutes[(subject, counter, minute)] += n
            for room, n in tally.rooms.items():
                rooms[(subject, room, hour)] += n
        self._open = {}

    async def flush(self) -> bool:
        """Write what was counted; False (and kept for the next try) when the store did not answer."""
        self._close_minute()  # what the open minute has so far: more of it is added to the same keys later
        batch, self._pending = self._pending, UsageBatch()
        if not batch:
            return True
        try:
            await self.store.add(batch)
        except StoreUnavailable as exc:
            self._keep(batch)
            logger.warning("usage not written yet (%s); kept for the next flush", exc)
            return False
        return True

    def _keep(self, batch: UsageBatch) -> None:
        batch.minutes.update(self._pending.minutes)
        batch.rooms.update(self._pending.rooms)
        if len(batch.minutes) > MAX_PENDING:
            logger.warning("usage store down too long: dropping the oldest unwritten counts")
            batch.minutes = Counter(dict(sorted(batch.minutes.items(), key=lambda kv: -kv[0][2])[:MAX_PENDING]))
        if len(batch.rooms) > MAX_PENDING:
            batch.rooms = Counter(dict(sorted(batch.rooms.items(), key=lambda kv: -kv[0][2])[:MAX_PENDING]))
        self._pending = batch

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Flush every few seconds while the server runs, once more at the end, and prune hourly."""
        try:
            async with running_in_background(self._loop()):
                yield
        finally:
            await self.flush()

    async def _loop(self) -> None:
        last_prune = float("-inf")
        while True:
            await asyncio.sleep(self._flush_every_s)
            await self.flush()
            if self._clock() - last_prune >= PRUNE_EVERY_S:
                last_prune = self._clock()
                with contextlib.suppress(StoreUnavailable):
                    await self.store.prune(int(last_prune))


@dataclass(slots=True)
class _Tally:
    """One caller's counts in the open minute."""

    counts: Counter[str] = field(default_factory=Counter)
    rooms: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class UsageSeries:
    """One counter's counts per bucket, zeros filled in, for a chart."""

    counter: str
    starts: list[int]
    counts: list[int]


class UsageReport:
    """Reads usage back for the CLI and the console."""

    def __init__(self, store: UsageStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def series(self, caller_label: str, resolution: Resolution) -> list[UsageSeries]:
        """Every counter of a caller over the whole window its resolution keeps, zeros filled in."""
        step = STEP_S[resolution]
        now = int(self._clock())
        last = now - now % step
        starts = list(range(last - RETENTION_S[resolution] + step, last + 1, step))
        points = await self._store.series(subject_of(caller_label), resolution, starts[0])
        return _as_series(points, starts)

    async def top_rooms(self, caller_label: str, *, days: int = 30, limit: int = 10) -> list[tuple[str, int]]:
        since = int(self._clock()) - days * 86400
        return await self._store.top_rooms(subject_of(caller_label), since, limit)

    async def totals(self, *, days: int) -> dict[str, dict[str, int]]:
        """Per subject and counter, from the start of the UTC day `days - 1` days ago."""
        return await self._store.totals(int(self._clock()) - (days - 1) * 86400)


def _as_series(points: list[UsagePoint], starts: list[int]) -> list[UsageSeries]:
    index = {start: i for i, start in enumerate(starts)}
    by_counter: dict[str, list[int]] = {}
    for point in points:
        position = index.get(point.start)
        if position is None:
            continue
        by_counter.setdefault(point.counter, [0] * len(starts))[position] += point.count
    return [UsageSeries(counter, starts, counts) for counter, counts in sorted(by_counter.items())]
