"""The operator console's keys and usage: what each key may do, what it used, and the changes an operator makes.

Framework-free: api/admin/ maps these to JSON routes. Usage is flushed before it is read, so what the console
shows includes this process's last few seconds (other workers' counts arrive with their next flush).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from ttsign.service.keys import KeyService
from ttsign.service.usage import UsageRecorder, UsageReport, UsageSeries
from ttsign.store.base import KeyRecord, Limits
from ttsign.store.usage import RETENTION_S, STEP_S, Resolution

TOP_ROOMS = 10
REFUSALS_FRESH_S = 10.0  # the live picture asks every 2 s; refusals by day need not be read that often


@dataclass(frozen=True)
class KeyRow:
    """One key as the console lists it: its own limits, the limits in force, and today's usage (UTC)."""

    key_id: str
    name: str
    created_at: float
    revoked_at: float | None
    chat_enabled: bool
    limits: Limits  # as set on the key; None windows follow the server's defaults
    effective: Limits  # what is enforced
    today: dict[str, int]  # counter -> count since 00:00 UTC


@dataclass(frozen=True)
class UsageChart:
    """One resolution's series for a chart: bucket i starts at `start + i * step`."""

    resolution: Resolution
    start: int
    step: int
    counts: dict[str, list[int]]  # counter -> counts, zeros filled in


@dataclass(frozen=True)
class KeyUsage:
    key_id: str
    minute: UsageChart  # the last 2 hours
    hour: UsageChart  # the last 30 days
    top_rooms: list[tuple[str, int]]


class Console:
    def __init__(
        self,
        keys: KeyService,
        report: UsageReport | None,
        recorder: UsageRecorder | None,
        *,
        default_limits: Limits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._keys = keys
        self._report = report
        self._recorder = recorder
        self._defaults = default_limits
        self._refusals: tuple[float, dict[str, int]] | None = None  # (read at, refusals today by reason)

    async def key_rows(self) -> list[KeyRow]:
        """Every key, newest first, with today's usage."""
        # Two files (keys, usage), two threads: read both at once.
        records, today = await asyncio.gather(self._keys.list(), self._totals_today())
        rows = [self._row(record, today.get(f"key:{record.key_id}", {})) for record in records]
        return sorted(rows, key=lambda row: (-row.created_at, row.key_id))

    async def key_row(self, key_id: str) -> KeyRow:
        """One key (KeyNotFoundError when there is none)."""
        record = await self._keys.get(key_id)
        today = await self._totals_today()
        return self._row(record, today.get(f"key:{key_id}", {}))

    async def create_key(self, name: str, limits: Limits, *, chat_enabled: bool) -> tuple[KeyRow, str]:
        """A new key and its plaintext, which is shown this once and never stored."""
        record, plaintext = await self._keys.create(name, limits, chat_enabled=chat_enabled)
        return self._row(record, {}), plaintext

    async def revoke(self, key_id: str) -> KeyRow:
        return await self._with_usage(await self._keys.revoke(key_id))

    async def update(self, key_id: str, *, limits: Limits | None, chat_enabled: bool | None) -> KeyRow:
        """Replace the key's limits whole (None windows: the server's defaults) and/or switch chat."""
        record = await self._keys.update(key_id, limits=limits, chat_enabled=chat_enabled)
        return await self._with_usage(record)

    async def refusals_today(self) -> dict[str, int]:
        """Every caller's refusals since 00:00 UTC by reason (any refusal: a bad key, a limit, TikTok's)."""
        now = self._clock()
        if self._refusals is None or now - self._refusals[0] >= REFUSALS_FRESH_S:
            by_reason: dict[str, int] = {}
            for counters in (await self._totals_today()).values():
                for counter, n in counters.items():
                    if counter.startswith("refused:"):
                        reason = counter.removeprefix("refused:")
                        by_reason[reason] = by_reason.get(reason, 0) + n
            self._refusals = (now, by_reason)
        return dict(self._refusals[1])

    async def key_usage(self, key_id: str) -> KeyUsage:
        """Per-minute and per-hour charts and the busiest rooms of one key (KeyNotFoundError if unknown)."""
        await self._keys.get(key_id)
        caller = f"key:{key_id}"
        if self._report is None:
            now = int(self._clock())
            return KeyUsage(key_id, _chart("minute", [], now), _chart("hour", [], now), [])
        await self._flush()
        minute = await self._report.series(caller, "minute")
        hour = await self._report.series(caller, "hour")
        rooms = await self._report.top_rooms(caller, limit=TOP_ROOMS)
        now = int(self._clock())
        return KeyUsage(key_id, _chart("minute", minute, now), _chart("hour", hour, now), rooms)

    async def _with_usage(self, record: KeyRecord) -> KeyRow:
        today = await self._totals_today()
        return self._row(record, today.get(f"key:{record.key_id}", {}))

    async def _totals_today(self) -> dict[str, dict[str, int]]:
        if self._report is None:
            return {}
        await self._flush()
        return await self._report.totals(days=1)

    async def _flush(self) -> None:
        if self._recorder is not None:
            await self._recorder.flush()  # False (store down) is fine: the console shows what was written

    def _row(self, record: KeyRecord, today: dict[str, int]) -> KeyRow:
        return KeyRow(
            key_id=record.key_id,
            name=record.name,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
            chat_enabled=record.chat_enabled,
            limits=record.limits,
            effective=record.limits.over(self._defaults),
            today=dict(today),
        )


def _chart(resolution: Resolution, series: list[UsageSeries], now: int) -> UsageChart:
    step = STEP_S[resolution]
    # The window UsageReport.series covers (it gives no starts when there is nothing to show).
    start = series[0].starts[0] if series else now - now % step - RETENTION_S[resolution] + step
    return UsageChart(resolution, start, step, {s.counter: s.counts for s in series})
