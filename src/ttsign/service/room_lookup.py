"""Streamer → room: the room id and live status behind a unique id, cached briefly and coalesced.

Clients poll "is X live" and fall back to this route when their own lookup fails; N callers asking for
the same streamer within the cache window share one TikTok request.

Only answers about the streamer are cached: a live room for `ttl_s`, "no such user" and "not live" (an
offline room included) for the shorter `negative_ttl_s`, since a streamer going live should show soon. A
refusal of *our* request (captcha, 403, blocked device, empty answer, server error) is never cached: it says
nothing about the streamer, the identity behind it is retired, and the next caller's lookup can recover.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ttsign.service.rooms import InvalidInput
from ttsign.signing import default_profile
from ttsign.upstream.identity import IdentityPool
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.retry import NO_RETRY, RetryPolicy, call_with_retries
from ttsign.upstream.rooms import Room, RoomDirectory, normalise_unique_id

T = TypeVar("T")
ROUTE_NAME = "api-live"  # the TikTok route the answer came from (reported as `routes_attempted`)
_ABOUT_THE_STREAMER = frozenset({RefusalCode.ROOM_NOT_FOUND, RefusalCode.ROOM_NOT_LIVE})


class RoomLookupService:
    def __init__(
        self,
        pool: IdentityPool,
        directory: RoomDirectory,
        *,
        default_profile_name: str | None = None,
        ttl_s: float = 15.0,
        negative_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        deadline_s: float | None = None,
        retry: RetryPolicy = NO_RETRY,
        rng: random.Random | None = None,
    ) -> None:
        self._deadline_s = deadline_s
        self._retry = retry
        self._rng = rng or random.SystemRandom()
        self._pool = pool
        self._directory = directory
        self._profile = default_profile(default_profile_name)
        self._ttl = ttl_s
        self._negative_ttl = min(negative_ttl_s, ttl_s)
        self._clock = clock
        self._cache: dict[str, tuple[float, Room | Refusal]] = {}  # key -> (expires at, answer)
        self._pending: dict[str, asyncio.Task[Room | Refusal]] = {}

    async def lookup(self, unique_id: str) -> Room | Refusal:
        """Raise InvalidInput for something that cannot be a unique id."""
        name = normalise_unique_id(unique_id)
        if name is None:
            raise InvalidInput("unique_id", "must be 1..64 letters, digits, '.' or '_'")
        key = name.lower()
        cached = self._cache.get(key)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, name))
            self._pending[key] = task
        try:
            # The caller's answer is bounded by the budget; the shared lookup may finish later for others.
            async with asyncio.timeout(self._deadline_s):
                return await asyncio.shield(task)
        except TimeoutError:
            return Refusal(RefusalCode.TIMEOUT, f"room lookup took over {self._deadline_s:g} s")

    async def room_id_of(self, unique_id: str) -> str | None:
        """The streamer's current room id; None when it cannot be told (not live, unknown, refused)."""
        try:
            room = await self.lookup(unique_id)
        except InvalidInput:
            return None
        return room.room_id if isinstance(room, Room) else None

    async def _fetch(self, key: str, name: str) -> Room | Refusal:
        deadline = time.monotonic() + (self._deadline_s if self._deadline_s is not None else math.inf)
        try:
            identity = await self._retrying(deadline, lambda: self._pool.acquire(self._profile))
            if isinstance(identity, Refusal):
                return identity
            result = await self._retrying(deadline, lambda: self._directory.room_of(identity, name))
            if isinstance(result, Refusal) and result.retires_identity:
                self._pool.retire(identity, result.code)
            self._remember(key, result)
            return result
        finally:
            self._pending.pop(key, None)

    def _remember(self, key: str, result: Room | Refusal) -> None:
        if isinstance(result, Room):
            ttl = self._ttl if result.live is not False else self._negative_ttl  # offline: may go live any moment
        elif result.code in _ABOUT_THE_STREAMER:
            ttl = self._negative_ttl
        else:
            return
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (self._clock() + ttl, result)

    async def _retrying(self, deadline: float, attempt: Callable[[], Awaitable[T | Refusal]]) -> T | Refusal:
        """Transient faults retried inside the lookup's budget (absolute `deadline` on time.monotonic)."""
        return await call_with_retries(attempt, self._retry, deadline=deadline, clock=time.monotonic, rng=self._rng)
