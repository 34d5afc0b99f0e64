"""Which backend holds the shared state: the embedded default (SQLite keys, in-process counters) or Redis.

One switch, `redis_url`: without it a single process needs no setup; with it every replica shares keys,
rate-limit windows, room caps, token counts, upstream identities and circuit-breaker transitions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from limits.aio.storage import MemoryStorage, Storage

from ttsign.store.base import BreakerExchange, ConnectCounter, IdentityShelf, KeyStore, RoomLedger, WindowBatch
from ttsign.store.memory import MemoryWindowBatch
from ttsign.store.redis import DEFAULT_PREFIX, DEFAULT_TIMEOUT_S, RedisKeyStore, redis_client
from ttsign.store.redis_breakers import RedisBreakerExchange
from ttsign.store.redis_identities import RedisIdentityShelf
from ttsign.store.redis_limits import RedisConnectCounter, RedisRoomLedger, RedisWindowBatch, rate_limit_storage
from ttsign.store.sqlite import SqliteKeyStore
from ttsign.store.usage import MemoryUsageStore, UsageStore
from ttsign.store.usage_redis import RedisUsageStore
from ttsign.store.usage_sqlite import SqliteUsageStore, usage_path


@dataclass
class Backends:
    """The stores one process uses. None means the in-process default of the component that uses it."""

    keys: KeyStore
    limits_storage: Storage | None = None
    limits_batch: WindowBatch | None = None  # counts a request's windows at once (Redis: one round trip)
    rooms: RoomLedger | None = None
    connections: ConnectCounter | None = None
    identities: IdentityShelf | None = None
    breakers: BreakerExchange | None = None  # None: each process's breakers are its own
    shared: bool = False  # True when every replica sees the same state (Redis)
    usage: UsageStore = field(default_factory=MemoryUsageStore)  # per-caller usage history
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        """Close the connections opened here (the key store closes itself)."""
        for close in self.closers:
            with contextlib.suppress(Exception):  # shutting down: a dead connection is not an error
                await close()


def open_backends(
    *,
    store_path: Path,
    redis_url: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    keys: KeyStore | None = None,
) -> Backends:
    """The embedded default, or everything on the Redis at `redis_url`; `keys` overrides the key store."""
    if redis_url is None:
        # Usage goes beside the SQLite key store; a test's in-memory key store keeps usage in memory too.
        usage = MemoryUsageStore() if keys is not None else SqliteUsageStore(usage_path(store_path))
        return _embedded(keys or SqliteKeyStore(store_path), usage)
    client = redis_client(redis_url, timeout_s=timeout_s)
    storage, pool = rate_limit_storage(redis_url, prefix=prefix, timeout_s=timeout_s)
    return Backends(
        keys=keys or RedisKeyStore(client, prefix=prefix, owns_client=False),
        limits_storage=storage,
        limits_batch=RedisWindowBatch(client, prefix=prefix),
        rooms=RedisRoomLedger(client, prefix=prefix),
        connections=RedisConnectCounter(client, prefix=prefix),
        identities=RedisIdentityShelf(client, prefix=prefix),
        breakers=RedisBreakerExchange(client, prefix=prefix),
        shared=True,
        usage=RedisUsageStore(client, prefix=prefix),
        closers=[client.aclose, pool.aclose],
    )


def _embedded(keys: KeyStore, usage: UsageStore) -> Backends:
    """In-process state. The window batch counts in the limiter's own storage, so `peek` reads its counts."""
    storage = MemoryStorage()
    return Backends(
        keys, limits_storage=storage, limits_batch=MemoryWindowBatch(storage), usage=usage, closers=[usage.close]
    )


def open_key_store(
    *,
    store_path: Path,
    redis_url: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> KeyStore:
    """Only the key store (for `ttsign keys`): the SQLite file, or Redis when `redis_url` is set."""
    if redis_url is None:
        return SqliteKeyStore(store_path)
    return RedisKeyStore(redis_client(redis_url, timeout_s=timeout_s), prefix=prefix)


def open_usage_store(
    *,
    store_path: Path,
    redis_url: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> UsageStore:
    """Only the usage store (for `ttsign usage`): the SQLite file beside the key store, or Redis."""
    if redis_url is None:
        return SqliteUsageStore(usage_path(store_path))
    client = redis_client(redis_url, timeout_s=timeout_s)
    return RedisUsageStore(client, prefix=prefix, close_client=True)
