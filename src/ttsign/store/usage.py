"""Usage counts per caller, kept per minute (2 hours) and per hour (30 days), behind one small interface.

A subject is a caller label: `key:<key_id>`, or `anon:<digest>` for an anonymous address (hashed: usage
history never holds an address). A counter is a name: `requests`, `signatures`, `connects`,
`relay_sockets`, or `refused:<reason>`. Rooms are counted per hour, for "top rooms".

Writes arrive in batches (service/usage.py aggregates in memory and flushes every few seconds), so every
backend adds counts rather than recording events one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Resolution = Literal["minute", "hour"]
MINUTE_S = 60
HOUR_S = 3600
DAY_S = 24 * HOUR_S
MINUTES_KEPT_S = 2 * HOUR_S
HOURS_KEPT_S = 30 * 24 * HOUR_S
RETENTION_S: dict[Resolution, int] = {"minute": MINUTES_KEPT_S, "hour": HOURS_KEPT_S}
STEP_S: dict[Resolution, int] = {"minute": MINUTE_S, "hour": HOUR_S}

CountKey = tuple[str, str, int]  # (subject, counter, bucket start in unix seconds)
RoomKey = tuple[str, str, int]  # (subject, room, hour start)


@dataclass
class UsageBatch:
    """Counts gathered since the last flush: per minute bucket, and rooms per hour bucket."""

    minutes: Counter[CountKey] = field(default_factory=Counter)
    rooms: Counter[RoomKey] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.minutes or self.rooms)

    def hours(self) -> Counter[CountKey]:
        """The same counts rolled up into hour buckets."""
        rolled: Counter[CountKey] = Counter()
        for (subject, counter, start), n in self.minutes.items():
            rolled[(subject, counter, start - start % HOUR_S)] += n
        return rolled


@dataclass(frozen=True)
class UsagePoint:
    start: int  # bucket start, unix seconds
    counter: str
    count: int


class UsageStore(Protocol):
    async def add(self, batch: UsageBatch) -> None:
        """Add the batch's counts; raises StoreUnavailable when the store does not answer."""

    async def series(self, subject: str, resolution: Resolution, since: int) -> list[UsagePoint]:
        """Every non-zero bucket of `subject` from `since` on, oldest first."""

    async def top_rooms(self, subject: str, since: int, limit: int) -> list[tuple[str, int]]:
        """The rooms `subject` used most since `since`, with their counts, busiest first."""

    async def totals(self, since: int) -> dict[str, dict[str, int]]:
        """Per subject, per counter, the counts added up from the UTC day of `since` on (for the key list:
        whole days, so that a store can keep one running total per day)."""

    async def prune(self, now: int) -> None:
        """Forget buckets older than their resolution keeps."""

    async def close(self) -> None: ...


def day_start(t: int) -> int:
    return t - t % DAY_S


def rank_rooms(counts: Iterable[tuple[str, int]], limit: int) -> list[tuple[str, int]]:
    total: Counter[str] = Counter()
    for room, n in counts:
        total[room] += n
    return sorted(total.items(), key=lambda item: (-item[1], item[0]))[:limit]


def add_totals(into: dict[str, dict[str, int]], rows: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    for subject, counter, n in rows:
        per_subject = into.setdefault(subject, {})
        per_subject[counter] = per_subject.get(counter, 0) + n
    return into


class MemoryUsageStore:
    """In-process usage (tests, and a server without a store directory)."""

    def __init__(self) -> None:
        self._buckets: dict[Resolution, Counter[CountKey]] = {"minute": Counter(), "hour": Counter()}
        self._rooms: Counter[RoomKey] = Counter()

    async def add(self, batch: UsageBatch) -> None:
        self._buckets["minute"].update(batch.minutes)
        self._buckets["hour"].update(batch.hours())
        self._rooms.update(batch.rooms)

    async def series(self, subject: str, resolution: Resolution, since: int) -> list[UsagePoint]:
        points = [
            UsagePoint(start, counter, n)
            for (who, counter, start), n in self._buckets[resolution].items()
            if who == subject and start >= since
        ]
        return sorted(points, key=lambda p: (p.start, p.counter))

    async def top_rooms(self, subject: str, since: int, limit: int) -> list[tuple[str, int]]:
        counts = ((room, n) for (who, room, start), n in self._rooms.items() if who == subject and start >= since)
        return rank_rooms(counts, limit)

    async def totals(self, since: int) -> dict[str, dict[str, int]]:
        day = day_start(since)
        rows = ((s, c, n) for (s, c, start), n in self._buckets["hour"].items() if start >= day)
        return add_totals({}, rows)

    async def prune(self, now: int) -> None:
        for resolution, buckets in self._buckets.items():
            _drop_before(buckets, now - RETENTION_S[resolution])
        _drop_before(self._rooms, now - HOURS_KEPT_S)

    async def close(self) -> None:
        return None


def _drop_before(counts: Mapping[tuple[str, str, int], int], cutoff: int) -> None:
    assert isinstance(counts, Counter)
    for key in [k for k in counts if k[2] < cutoff]:
        del counts[key]
