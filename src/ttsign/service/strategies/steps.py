"""The steps every strategy shares: an identity for the profile, and the room id (looked up once)."""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ttsign.service.strategies.base import ConnectRequest
from ttsign.upstream.identity import Identity, IdentityPool
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.retry import RetryPolicy, call_with_retries
from ttsign.upstream.rooms import Room, RoomDirectory

T = TypeVar("T")
OnRetry = Callable[[str, Refusal], None]  # (step: bootstrap | room_lookup | im_fetch, the refusal retried)

logger = logging.getLogger(__name__)

# How long TikTok's word that a room is live is taken again without asking: many clients join one room at
# once, and a room that ended meanwhile only costs its client a socket TikTok closes (refusals are not kept).
ROOM_LIVE_TTL_S = 5.0
_LIVE_ROOMS_KEPT = 10_000


class ConnectSteps:
    """Identity and room resolution under one deadline, every awaited step retried within what is left."""

    def __init__(
        self,
        pool: IdentityPool,
        rooms: RoomDirectory | None,
        *,
        retry: RetryPolicy,
        clock: Callable[[], float],
        rng: random.Random,
        on_retry: OnRetry | None = None,
    ) -> None:
        self.pool = pool
        self.rooms = rooms
        self.clock = clock
        self._retry = retry
        self._rng = rng
        self._on_retry = on_retry
        self._live: OrderedDict[str, tuple[float, str]] = OrderedDict()  # target label -> (until, room id)

    async def identity(self, request: ConnectRequest) -> Identity | Refusal:
        """The warm identity (no await at all), else a bootstrap; a bootstrap that fails is noted on the
        request (it counts against the identity's breaker, not the room's)."""
        warm = self.pool.ready(request.profile)
        if warm is not None:
            return warm
        name = request.target.unique_id  # a viewer arrives on the streamer's page: bootstrap there first
        obtained = await self.retrying(
            "bootstrap", request.deadline, lambda: self.pool.acquire(request.profile, name=name)
        )
        request.identity_failed = isinstance(obtained, Refusal)
        return obtained

    async def identity_and_room(
        self, request: ConnectRequest, strategy: str, *, live: bool
    ) -> tuple[Identity, str] | Refusal:
        """An identity, then the room id (`live`: once TikTok said the room is live); a refusal is logged
        under `strategy` and returned."""
        identity = await self.identity(request)
        if isinstance(identity, Refusal):
            log_refusal(request.request_id, request.target.label, identity, None, strategy)
            return identity
        room_id = await (self.live_room_id if live else self.room_id)(request, identity)
        if isinstance(room_id, Refusal):
            log_refusal(request.request_id, request.target.label, room_id, identity, strategy)
            return room_id
        return identity, room_id

    async def room_id(self, request: ConnectRequest, identity: Identity) -> str | Refusal:
        if request.room_id is not None:
            return request.room_id
        room_id, unique_id = request.target.room_id, request.target.unique_id
        if room_id is None:
            rooms = self.rooms
            assert rooms is not None and unique_id is not None
            looked_up = await self.retrying(
                "room_lookup", request.deadline, lambda: rooms.room_id_of(identity, unique_id)
            )
            if isinstance(looked_up, Refusal):
                self.retire_if_refused(identity, looked_up)
                return looked_up
            room_id = looked_up
        request.room_id = room_id
        return room_id

    async def live_room_id(self, request: ConnectRequest, identity: Identity) -> str | Refusal:
        """The room id, once TikTok said the room is live (a path that never asks TikTok for the room's
        messages must ask whether there is a live room at all, or a client would wait on a dead socket)."""
        rooms = self.rooms
        if request.room_id is not None or rooms is None:
            return await self.room_id(request, identity)
        target = request.target
        known = self._live.get(target.label)
        if known is not None and self.clock() < known[0]:
            request.room_id = known[1]
            return known[1]
        if target.room_id is not None:
            room_id = target.room_id
            checked = await self.retrying("room_info", request.deadline, lambda: rooms.live_room(identity, room_id))
        else:
            unique_id = target.unique_id
            assert unique_id is not None
            checked = await self.retrying("room_lookup", request.deadline, lambda: rooms.room_of(identity, unique_id))
            if isinstance(checked, Room) and checked.live is False:
                checked = Refusal(RefusalCode.ROOM_NOT_LIVE, "the streamer is not live")
        if isinstance(checked, Refusal):
            self.retire_if_refused(identity, checked)
            return checked
        request.room_id = target.room_id or checked.room_id
        self._remember_live(target.label, request.room_id)
        return request.room_id

    def _remember_live(self, label: str, room_id: str) -> None:
        self._live[label] = (self.clock() + ROOM_LIVE_TTL_S, room_id)
        self._live.move_to_end(label)
        while len(self._live) > _LIVE_ROOMS_KEPT:
            self._live.popitem(last=False)

    def retire_if_refused(self, identity: Identity, refusal: Refusal) -> None:
        if refusal.retires_identity:
            self.pool.retire(identity, refusal.code)

    async def retrying(self, step: str, deadline: float, attempt: Callable[[], Awaitable[T | Refusal]]) -> T | Refusal:
        def retried(refusal: Refusal, number: int, delay: float) -> None:
            logger.info("%s attempt %d: %s; retrying in %.0f ms", step, number, refusal.code, delay * 1000)
            if self._on_retry is not None:
                self._on_retry(step, refusal)

        return await call_with_retries(
            attempt, self._retry, deadline=deadline, clock=self.clock, rng=self._rng, on_retry=retried
        )


def log_refusal(request_id: str, room: str, refusal: Refusal, identity: Identity | None, strategy: str) -> None:
    logger.warning(
        "request %s room %s refused: %s (%s) identity=%s strategy=%s",
        request_id,
        room,
        refusal.code,
        refusal.message,
        identity.key if identity else "-",
        strategy,
    )
