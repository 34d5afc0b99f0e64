"""Circuit breakers: stop calling TikTok for a key (a room, an identity) that keeps failing, for a cooldown.

Per key: closed (calls flow; consecutive failures are counted) → open after `failure_threshold` failures in
a row (calls are refused at once for `cooldown_s`) → half-open (one probe call is let through; its success
closes the breaker, its failure opens it again). Pure state over an injected clock: no I/O, no tasks.

Only keys that are failing are tracked (a success forgets the key), at most `max_keys` of them, so a flood
of distinct room ids cannot grow memory without bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    cooldown_s: float = 10.0
    max_keys: int = 10_000


@dataclass
class _Entry:
    failures: int = 0
    opened_at: float | None = None
    probe_at: float | None = None  # when the half-open probe was let through


OnChange = Callable[[str, BreakerState], None]  # (scope, new state); keys never leave this module


class BreakerBoard:
    """The breakers of one scope ("room" or "identity"), keyed by an opaque string."""

    def __init__(
        self,
        scope: str,
        policy: BreakerPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: OnChange | None = None,
    ) -> None:
        self.scope = scope
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._on_change = on_change
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def state(self, key: str) -> BreakerState:
        entry = self._entries.get(key)
        if entry is None or entry.opened_at is None:
            return BreakerState.CLOSED
        if self._clock() < entry.opened_at + self.policy.cooldown_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def check(self, key: str) -> float | None:
        """None: go ahead (possibly as the half-open probe). Otherwise: seconds until a call may be tried."""
        entry = self._entries.get(key)
        if entry is None or entry.opened_at is None:
            return None
        now = self._clock()
        reopens_at = entry.opened_at + self.policy.cooldown_s
        if now < reopens_at:
            return reopens_at - now
        # Half-open: one probe at a time; a probe that never reported back (its caller vanished) expires.
        if entry.probe_at is not None and now < entry.probe_at + self.policy.cooldown_s:
            return entry.probe_at + self.policy.cooldown_s - now
        if entry.probe_at is None:
            self._notify(BreakerState.HALF_OPEN)
        entry.probe_at = now
        return None

    def record_success(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry.opened_at is not None:
            self._notify(BreakerState.CLOSED)

    def record_failure(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._new_entry(key)
        self._entries.move_to_end(key)
        now = self._clock()
        if entry.opened_at is not None:
            if entry.probe_at is not None:  # the probe failed: another full cooldown
                entry.opened_at, entry.probe_at = now, None
                self._notify(BreakerState.OPEN)
            return  # a call that started before the breaker opened: it is open already
        entry.failures += 1
        if entry.failures >= self.policy.failure_threshold:
            entry.opened_at = now
            self._notify(BreakerState.OPEN)

    def open_count(self) -> int:
        """Breakers open or half-open right now (for metrics)."""
        return sum(1 for entry in self._entries.values() if entry.opened_at is not None)

    def _new_entry(self, key: str) -> _Entry:
        while len(self._entries) >= self.policy.max_keys:
            self._entries.popitem(last=False)
        entry = _Entry()
        self._entries[key] = entry
        return entry

    def _notify(self, state: BreakerState) -> None:
        if self._on_change is not None:
            self._on_change(self.scope, state)
