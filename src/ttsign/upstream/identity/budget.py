"""What one identity may spend on socket connects: TikTok flags a session at about 15 WebSocket connects an
hour (all-chat `pure-node.ts`, which caps itself at 12), so each identity hands out at most so many socket
addresses per hour, and is rotated once its budget is spent.

Counting is a moving window keyed by the identity's id, which the replicas share: the `limits` library's, in
the storage every replica shares (Redis when configured), or, in one process, store/memory_moving_window.py
(the same decisions, at a constant cost per connect). When the storage is unreachable the connect goes ahead
uncounted: a missed count costs less than refusing every connect during an outage.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItemPerHour
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from ttsign.store.base import StoreUnavailable
from ttsign.store.memory_moving_window import window_for
from ttsign.upstream.identity.value import Identity

logger = logging.getLogger(__name__)

_NAMESPACE = "identity-socket-connects"
_KEYS_KEPT = 4096


class ConnectBudget:
    """Socket connects per identity per hour."""

    def __init__(self, per_hour: int, storage: Storage | None = None) -> None:
        self._item = RateLimitItemPerHour(per_hour)
        storage = storage or MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._in_process = window_for(storage) if isinstance(storage, MemoryStorage) else None
        self._keys: dict[str, str] = {}  # identity key -> its window's storage key (the library's key_for)
        self._warned_at = float("-inf")

    @property
    def per_hour(self) -> int:
        return int(self._item.amount)

    async def spend(self, identity: Identity, connects: int = 1) -> bool:
        """Count `connects` socket connects for `identity`; False when they do not fit in its budget for the
        hour (then nothing is counted)."""
        if self._in_process is not None:
            return self._in_process.acquire(self._key(identity), self.per_hour, self._item.get_expiry(), connects)
        try:
            return await self._limiter.hit(self._item, _NAMESPACE, identity.key, cost=connects)
        except (StorageError, StoreUnavailable, OSError) as exc:
            self._warn(exc)
            return True

    def _key(self, identity: Identity) -> str:
        key = self._keys.get(identity.key)
        if key is None:
            if len(self._keys) >= _KEYS_KEPT:
                self._keys.clear()  # bounded: identities rotate; a key is built again at a few microseconds
            key = self._keys[identity.key] = self._item.key_for(_NAMESPACE, identity.key)
        return key

    async def remaining(self, identity: Identity) -> int | None:
        """Connects `identity` may still make this hour (nothing counted); None when the storage is unreachable."""
        if self._in_process is not None:
            return self._in_process.stats(self._key(identity), self.per_hour, self._item.get_expiry())[0]
        try:
            stats = await self._limiter.get_window_stats(self._item, _NAMESPACE, identity.key)
        except (StorageError, StoreUnavailable, OSError):
            return None
        return int(stats.remaining)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 10.0:
            self._warned_at = now
            logger.warning("connect budgets unavailable (%s); socket connects are not counted", type(exc).__name__)
