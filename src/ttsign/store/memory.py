"""In-process stores: zero setup, gone on restart, private to one process (the embedded default)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Sequence

from limits.aio.storage import MemoryStorage

from ttsign.store.base import BreakerEvent, KeyNotFoundError, KeyRecord


class MemoryKeyStore:
    def __init__(self) -> None:
        self._by_id: dict[str, KeyRecord] = {}
        self._secrets: dict[str, str] = {}

    async def add(self, record: KeyRecord) -> None:
        if record.key_id in self._by_id:
            raise ValueError(f"key id {record.key_id} exists")
        self._by_id[record.key_id] = record

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        return next((r for r in self._by_id.values() if r.key_hash == key_hash), None)

    async def by_id(self, key_id: str) -> KeyRecord | None:
        return self._by_id.get(key_id)

    async def all(self) -> list[KeyRecord]:
        return sorted(self._by_id.values(), key=lambda r: r.created_at)

    async def replace(self, record: KeyRecord) -> None:
        if record.key_id not in self._by_id:
            raise KeyNotFoundError(record.key_id)
        self._by_id[record.key_id] = record

    async def secret(self, name: str, make: Callable[[], str]) -> str:
        return self._secrets.setdefault(name, make())

    async def forget_secret(self, name: str) -> None:
        self._secrets.pop(name, None)

    async def close(self) -> None:
        return None


_PRUNE_AT = 10_000  # subjects/tokens before expired entries are swept out of the tables
_SWEEP_EVERY_S = 10.0  # how often MemoryWindowBatch drops expired windows


class MemoryWindowBatch:
    """Counts a request in all its windows with one plain function call (see base.WindowBatch).

    The counters are those of the `limits` library's async MemoryStorage that the RateLimiter also reads:
    its `storage` Counter and `expirations` (key -> unix expiry), changed by the rule its `incr` applies (a
    window whose expiry has passed starts again from zero; the expiry is set when the count becomes 1), so
    `peek`, going through the library, sees these counts. Going through `incr` window by window costs a
    coroutine, a lock and often a fresh asyncio task that scans every key, per window per request; here
    nothing awaits between reading and writing, so a batch is atomic on the event loop.

    Bypassing `incr` also bypasses the storage's own expiry task, so expired windows are swept here, at
    most every `sweep_every_s`: memory stays bounded by the addresses seen in the longest window.
    """

    def __init__(
        self,
        storage: MemoryStorage,
        *,
        clock: Callable[[], float] = time.time,
        sweep_every_s: float = _SWEEP_EVERY_S,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._sweep_every_s = sweep_every_s
        self._next_sweep = clock() + sweep_every_s

    async def hit(self, counters: Sequence[tuple[str, int, int]]) -> list[tuple[int, float]]:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        counts, expirations = self._storage.storage, self._storage.expirations
        out: list[tuple[int, float]] = []
        for key, limit, expiry in counters:
            if expirations.get(key, 0) <= now:  # MemoryStorage.get's rule: an expired window restarts
                self._forget(key)
            count = counts[key] + 1
            counts[key] = count
            if count == 1:
                expirations[key] = now + expiry
            out.append((count, expirations[key] - now))
            if count > limit:
                break
        return out

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._sweep_every_s
        expired = [key for key, expires in self._storage.expirations.items() if expires <= now]
        for key in expired:
            self._forget(key)

    def _forget(self, key: str) -> None:
        self._storage.storage.pop(key, None)
        self._storage.expirations.pop(key, None)
        self._storage.locks.pop(key, None)  # the lock its `incr` made for the key


class MemoryRoomLedger:
    """Distinct rooms per subject, in this process only."""

    def __init__(self, window_s: float = 3600.0) -> None:
        self._window = window_s
        self._rooms: dict[str, dict[str, float]] = {}

    async def admit(self, subject: str, room: str, cap: int, now: float) -> tuple[bool, float]:
        first_seen = self._rooms.get(subject, {}).get(room)
        if first_seen is not None and now - first_seen < self._window:
            return True, 0.0  # a room it is counted for already (a client's every reconnect): nothing changes
        if len(self._rooms) > _PRUNE_AT:
            self._rooms = {s: r for s, r in self._rooms.items() if any(now - t < self._window for t in r.values())}
        rooms = {r: t for r, t in self._rooms.get(subject, {}).items() if now - t < self._window}
        if room in rooms or len(rooms) < cap:
            rooms[room] = rooms.get(room, now)
            self._rooms[subject] = rooms
            return True, 0.0
        self._rooms[subject] = rooms
        return False, min(rooms.values()) + self._window


class MemoryConnectCounter:
    """Connections per token, in this process only."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._uses: dict[str, tuple[int, int]] = {}  # token id -> (connections made, token expiry)

    async def take(self, token_id: str, limit: int, expires_at: int) -> bool:
        used = self._uses.get(token_id, (0, expires_at))[0]
        if used >= limit:
            return False
        if len(self._uses) > _PRUNE_AT:
            now = self._clock()
            self._uses = {t: u for t, u in self._uses.items() if u[1] > now}
        self._uses[token_id] = (used + 1, expires_at)
        return True


class MemoryBreakerExchange:
    """Breaker transitions between listeners of one process (replicas simulated in one test, say).

    A single process needs no exchange at all (its boards are the truth); this one is the protocol's
    reference: every listener hears every event, and a listener that falls `backlog` events behind misses
    the oldest rather than growing without bound.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, backlog: int = 1024) -> None:
        self._clock = clock
        self._backlog = backlog
        self._open: dict[tuple[str, str], float] = {}
        self._listeners: set[asyncio.Queue[BreakerEvent]] = set()

    async def publish(self, event: BreakerEvent) -> None:
        if event.reopens_at is None:
            self._open.pop((event.scope, event.key), None)
        else:
            if len(self._open) > _PRUNE_AT:
                now = self._clock()
                self._open = {k: until for k, until in self._open.items() if until > now}
            self._open[(event.scope, event.key)] = event.reopens_at
        for queue in self._listeners:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    async def listen(self) -> AsyncGenerator[BreakerEvent | None, None]:
        queue: asyncio.Queue[BreakerEvent] = asyncio.Queue(self._backlog)
        self._listeners.add(queue)
        try:
            now = self._clock()
            for (scope, key), until in list(self._open.items()):
                if until > now:
                    yield BreakerEvent(scope, key, until)
            yield None
            while True:
                yield await queue.get()
        finally:
            self._listeners.discard(queue)
