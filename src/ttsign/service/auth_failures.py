"""Failed credentials cost the address that sent them: wrong keys and bad tokens are counted per address,
and an address over its failure limit is refused before its credentials are even checked.

Failures are counted in the shared rate-limit storage (so replicas agree on the count), but the verdict
"this address is blocked until T" is kept in process: checking it costs no store round trip, so honest
keyed requests pay nothing. A replica learns of a block from the first failure it sees over the limit,
so with N replicas a guesser gets at most N answers past the limit, each of them a 429.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from ttsign.service.limits import RateLimiter
from ttsign.store.base import Limits, StoreUnavailable

logger = logging.getLogger(__name__)

REASON = "too_many_auth_failures"
_MAX_BLOCKED = 10_000  # addresses remembered as blocked; expired ones are dropped past this


class AuthFailures:
    def __init__(self, limiter: RateLimiter, limits: Limits, *, clock: Callable[[], float] = time.time) -> None:
        self._limiter = limiter
        self._windows = limits.windows()
        self._clock = clock
        self._blocked: dict[str, float] = {}  # address → unix time its block ends

    def blocked_for(self, ip: str) -> int:
        """Seconds until `ip` may try credentials again; 0 when it may now. No I/O."""
        until = self._blocked.get(ip)
        if until is None:
            return 0
        left = until - self._clock()
        if left <= 0:
            del self._blocked[ip]
            return 0
        return max(1, math.ceil(left))

    async def record(self, ip: str) -> int:
        """Count one failed credential from `ip`; the seconds it is now blocked for (0: not blocked)."""
        if not self._windows:
            return 0
        try:
            decision = await self._limiter.hit(f"authfail:{ip}", self._windows)
        except StoreUnavailable as exc:  # the failure is still refused; only its cost is not counted
            logger.warning("auth failure not counted: %s", exc)
            return 0
        if decision.allowed or decision.refused_by is None:
            return 0
        self._remember(ip, decision.refused_by.reset_at)
        return self.blocked_for(ip)

    def _remember(self, ip: str, until: float) -> None:
        if len(self._blocked) >= _MAX_BLOCKED:
            now = self._clock()
            self._blocked = {a: t for a, t in self._blocked.items() if t > now}
            if len(self._blocked) >= _MAX_BLOCKED:
                self._blocked.clear()
        self._blocked[ip] = until
