"""Usage in Redis, shared by every replica: each flush is one pipeline of HINCRBYs with expiries.

Layout (under the configured prefix):
  usage:m:<subject>:<minute>   hash counter → count    expires 2 hours after its minute
  usage:h:<subject>:<hour>     hash counter → count    expires 30 days after its hour
  usage:r:<subject>:<hour>     hash room → count       expires 30 days after its hour
  usage:d:<day>                hash "<subject>\x1f<counter>" → count (the key list's totals; 31 days)
Redis drops old buckets itself, so `prune` has nothing to do.
"""

from __future__ import annotations

from redis.asyncio import Redis

from ttsign.store.redis import unavailable_on_error
from ttsign.store.usage import (
    DAY_S,
    HOUR_S,
    HOURS_KEPT_S,
    MINUTES_KEPT_S,
    RETENTION_S,
    STEP_S,
    Resolution,
    UsageBatch,
    UsagePoint,
    add_totals,
    day_start,
    rank_rooms,
)

_SEP = "\x1f"  # cannot occur in a subject ("key:<hex>" / "anon:<hex>") or a counter name
_LETTER: dict[Resolution, str] = {"minute": "m", "hour": "h"}


class RedisUsageStore:
    def __init__(self, client: Redis, *, prefix: str, close_client: bool = False) -> None:
        self._redis = client
        self._prefix = prefix
        self._close_client = close_client  # a client of its own (the CLI), not the backends' shared one

    def _bucket(self, resolution: Resolution, subject: str, start: int) -> str:
        return f"{self._prefix}usage:{_LETTER[resolution]}:{subject}:{start}"

    async def add(self, batch: UsageBatch) -> None:
        with unavailable_on_error("usage add"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for (subject, counter, start), n in batch.minutes.items():
                    key = self._bucket("minute", subject, start)
                    pipe.hincrby(key, counter, n)
                    pipe.expireat(key, start + MINUTES_KEPT_S + STEP_S["minute"])
                for (subject, counter, start), n in batch.hours().items():
                    key = self._bucket("hour", subject, start)
                    pipe.hincrby(key, counter, n)
                    pipe.expireat(key, start + HOURS_KEPT_S + HOUR_S)
                    day = day_start(start)
                    pipe.hincrby(f"{self._prefix}usage:d:{day}", f"{subject}{_SEP}{counter}", n)
                    pipe.expireat(f"{self._prefix}usage:d:{day}", day + HOURS_KEPT_S + DAY_S)
                for (subject, room, start), n in batch.rooms.items():
                    key = f"{self._prefix}usage:r:{subject}:{start}"
                    pipe.hincrby(key, room, n)
                    pipe.expireat(key, start + HOURS_KEPT_S + HOUR_S)
                await pipe.execute()

    async def _hashes(self, keys: list[str]) -> list[dict[str, str]]:
        with unavailable_on_error("usage read"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                results: list[dict[str, str]] = await pipe.execute()
        return results

    async def series(self, subject: str, resolution: Resolution, since: int) -> list[UsagePoint]:
        step = STEP_S[resolution]
        first = since + (-since % step)
        now = await self._now()
        starts = list(range(first, now + 1, step))[-(RETENTION_S[resolution] // step + 1) :]
        hashes = await self._hashes([self._bucket(resolution, subject, start) for start in starts])
        return [
            UsagePoint(start, counter, int(n))
            for start, counts in zip(starts, hashes, strict=True)
            for counter, n in sorted(counts.items())
        ]

    async def top_rooms(self, subject: str, since: int, limit: int) -> list[tuple[str, int]]:
        first = since + (-since % HOUR_S)
        starts = range(first, await self._now() + 1, HOUR_S)
        hashes = await self._hashes([f"{self._prefix}usage:r:{subject}:{start}" for start in starts])
        return rank_rooms(((room, int(n)) for counts in hashes for room, n in counts.items()), limit)

    async def totals(self, since: int) -> dict[str, dict[str, int]]:
        days = range(day_start(since), await self._now() + 1, DAY_S)
        hashes = await self._hashes([f"{self._prefix}usage:d:{day}" for day in days])
        rows: list[tuple[str, str, int]] = []
        for counts in hashes:
            for name, n in counts.items():
                subject, _, counter = name.partition(_SEP)
                if counter:
                    rows.append((subject, counter, int(n)))
        return add_totals({}, rows)

    async def _now(self) -> int:
        with unavailable_on_error("usage time"):
            seconds, _ = await self._redis.time()
        return int(seconds)

    async def prune(self, now: int) -> None:
        return None  # every bucket carries its own expiry

    async def close(self) -> None:
        if self._close_client:
            await self._redis.aclose()
