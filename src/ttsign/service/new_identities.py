"""How many new TikTok identities callers may cause: each new browser User-Agent a caller sends would cost a
TikTok bootstrap (several page loads) and, with the pool full, evict an identity other callers use.

A caller's UA that maps to a profile the pool already holds costs nothing and is always honoured. One that
would start a new identity is honoured within a budget per caller and per minute, and for the whole process
per minute; past it the request is served as the default profile (served, not refused: the clients cope
with another UA, see service/connect.py), so a caller rotating User-Agents gains nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ttsign.signing import BrowserProfile
from ttsign.upstream.identity import IdentityPool, identity_slot

logger = logging.getLogger(__name__)

WINDOW_S = 60.0


class NewIdentityBudget:
    def __init__(
        self,
        *,
        per_caller_per_minute: int = 2,
        per_minute: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_caller = per_caller_per_minute
        self._per_minute = per_minute
        self._clock = clock
        self._window = -1
        self._total = 0
        self._by_caller: dict[str, int] = {}  # emptied every window: bounded by one minute's callers

    def choose(
        self, wanted: BrowserProfile, default: BrowserProfile, pool: IdentityPool, caller: str | None
    ) -> BrowserProfile:
        """`wanted` when the pool holds its identity or the budgets allow a new one, else `default`."""
        if identity_slot(wanted) == identity_slot(default) or pool.holds(wanted):
            return wanted
        if self._take(caller):
            return wanted
        logger.info("new identity for %s refused by the budget; serving as %s", wanted.name, default.name)
        return default

    def _take(self, caller: str | None) -> bool:
        window = int(self._clock() // WINDOW_S)
        if window != self._window:
            self._window, self._total, self._by_caller = window, 0, {}
        if self._total >= self._per_minute:
            return False
        if caller is not None:
            used = self._by_caller.get(caller, 0)
            if used >= self._per_caller:
                return False
            self._by_caller[caller] = used + 1
        self._total += 1
        return True
