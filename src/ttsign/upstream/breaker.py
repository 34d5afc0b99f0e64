"""Circuit breakers: stop calling TikTok for a key (a room, an identity) that keeps failing, for a cooldown.

Per key: closed (calls flow; consecutive failures are counted) → open after `failure_threshold` failures in
a row (calls are refused at once for `cooldown_s`) → half-open (one probe call is let through; its success
closes the breaker, its failure opens it again). Pure state over an injected clock: no I/O, no tasks.

Only keys that are failing are tracked (a success forgets the key), at most `max_keys` of them, so a flood
of distinct room ids cannot grow memory without bound.

Replicas share breakers by exchanging transitions: `on_transition` reports each breaker this board opens
(with its reopen time) or closes, and `apply_open` / `apply_close` take another replica's transitions in.
Applied transitions are not reported again, so they never echo between replicas.
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


OnChange = Callable[[str, BreakerState], None]  # (scope, new state), for metrics: no key


@dataclass(frozen=True)
class Transition:
    """A breaker of this board opened (until `reopens_at`, on the board's clock) or closed."""

    scope: str
    key: str
    state: BreakerState  # OPEN or CLOSED: half-open follows from the clock, it is never reported
    reopens_at: float | None = None


OnTransition = Callable[[Transition], None]


class BreakerBoard:
    """The breakers of one scope ("room" or "identity"), keyed by an opaque string."""

    def __init__(
        self,
        scope: str,
        policy: BreakerPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: OnChange | None = None,
        on_transition: OnTransition | None = None,
    ) -> None:
        self.scope = scope
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._on_change = on_change
        self._on_transition = on_transition
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
            self._notify(key, BreakerState.HALF_OPEN)
        entry.probe_at = now
        return None

    def record_success(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry.opened_at is not None:
            self._notify(key, BreakerState.CLOSED)

    def record_failure(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._new_entry(key)
        self._entries.move_to_end(key)
        now = self._clock()
        if entry.opened_at is not None:
            if entry.probe_at is not None:  # the probe failed: another full cooldown
                entry.opened_at, entry.probe_at = now, None
                self._notify(key, BreakerState.OPEN, now + self.policy.cooldown_s)
            return  # a call that started before the breaker opened: it is open already
        entry.failures += 1
        if entry.failures >= self.policy.failure_threshold:
            entry.opened_at = now
            self._notify(key, BreakerState.OPEN, now + self.policy.cooldown_s)

    def apply_open(self, key: str, reopens_at: float) -> None:
        """Hold `key` open until `reopens_at` (this board's clock) because another replica opened it.

        A breaker already open here at least as long keeps its own time; one that reopens sooner (or is
        half-open, its probe still out) takes the later time. Not reported to `on_change`/`on_transition`.
        """
        if reopens_at <= self._clock():
            return  # over already: half-open here is this replica's own business
        opened_at = reopens_at - self.policy.cooldown_s
        entry = self._entries.get(key)
        if entry is None:
            entry = self._new_entry(key)
        elif entry.opened_at is not None and entry.opened_at >= opened_at:
            self._entries.move_to_end(key)
            return
        entry.opened_at, entry.probe_at = opened_at, None
        self._entries.move_to_end(key)

    def apply_close(self, key: str) -> None:
        """Close `key` and forget its failures because a call through it succeeded on another replica."""
        self._entries.pop(key, None)

    def open_count(self) -> int:
        """Breakers open or half-open right now (for metrics)."""
        return sum(1 for entry in self._entries.values() if entry.opened_at is not None)

    def _new_entry(self, key: str) -> _Entry:
        while len(self._entries) >= self.policy.max_keys:
            self._entries.popitem(last=False)
        entry = _Entry()
        self._entries[key] = entry
        return entry

    def _notify(self, key: str, state: BreakerState, reopens_at: float | None = None) -> None:
        if self._on_change is not None:
            self._on_change(self.scope, state)
        if self._on_transition is not None and state is not BreakerState.HALF_OPEN:
            self._on_transition(Transition(self.scope, key, state, reopens_at))
