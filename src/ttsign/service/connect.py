"""The connect use case: open a room for a client library and hand back TikTok's first payload.

Profile choice: the client will open the WebSocket with its own User-Agent, so when that UA maps to a
consistent browser profile we fetch as that browser (TikTok sees one browser throughout). When it cannot
be made consistent (bots, libraries, garbage) we fall back to the configured default profile rather than
refuse: the fetch itself is still coherent, and the clients cope with a different UA on the socket.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ttsign.service.resilience import ConnectBreakers
from ttsign.service.rooms import InvalidInput, check_opaque, check_room_id
from ttsign.signing import BrowserProfile, ProfileError, default_profile, profile_from_user_agent
from ttsign.upstream.identity import Identity, IdentityPool
from ttsign.upstream.refusals import Refusal
from ttsign.upstream.retry import NO_RETRY, RetryPolicy, call_with_retries
from ttsign.upstream.rooms import RoomDirectory, normalise_unique_id
from ttsign.upstream.webcast import Fetched, RoomRequest, WebcastClient

T = TypeVar("T")
OnRetry = Callable[[str, Refusal], None]  # (step: bootstrap | room_lookup | im_fetch, the refusal retried)

logger = logging.getLogger(__name__)

__all__ = ["ConnectService", "Connected", "InvalidInput"]


@dataclass(frozen=True)
class Connected:
    """What a client needs to open the room's WebSocket."""

    payload: bytes
    ttwid: str
    room_id: str
    request_id: str
    profile_name: str


@dataclass(frozen=True)
class _Target:
    """The room a client asked for: by id, or by the streamer's unique id (looked up first)."""

    room_id: str | None = None
    unique_id: str | None = None

    @property
    def label(self) -> str:
        return self.room_id or f"@{self.unique_id}"


class ConnectService:
    """Framework-free: the API layer calls `connect` and maps the result to its dialect."""

    def __init__(
        self,
        pool: IdentityPool,
        webcast: WebcastClient,
        *,
        default_profile_name: str | None = None,
        honour_client_user_agent: bool = True,
        deadline_s: float | None = None,
        rooms: RoomDirectory | None = None,
        retry: RetryPolicy = NO_RETRY,
        breakers: ConnectBreakers | None = None,
        on_retry: OnRetry | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._deadline_s = deadline_s
        self._retry = retry
        self.breakers = breakers
        self._on_retry = on_retry
        self._clock = clock
        self._rng = rng or random.SystemRandom()
        self._rooms = rooms
        self._pool = pool
        self._webcast = webcast
        self._default = default_profile(default_profile_name)
        self._honour_ua = honour_client_user_agent

    @property
    def default_profile(self) -> BrowserProfile:
        return self._default

    def choose_profile(self, user_agent: str | None) -> BrowserProfile:
        """The caller's browser when consistent, else the default (see the module docstring)."""
        if not user_agent or not self._honour_ua:
            return self._default
        try:
            return profile_from_user_agent(user_agent)
        except ProfileError as exc:
            logger.debug("client user agent not usable (%s); using profile %s", exc, self._default.name)
            return self._default

    async def connect(
        self,
        room_id: str | None = None,
        *,
        unique_id: str | None = None,
        cursor: str = "",
        internal_ext: str = "",
        user_agent: str | None = None,
        request_id: str = "",
    ) -> Connected | Refusal:
        """Signed im/fetch for the room (or the streamer's room when only `unique_id` is given).

        Raises InvalidInput for bad input; TikTok's refusals come back as values.
        """
        target = self._target(room_id, unique_id)
        cursor = check_opaque("cursor", cursor)
        internal_ext = check_opaque("internal_ext", internal_ext)
        profile = self.choose_profile(user_agent)
        if self.breakers is not None:
            paused = self.breakers.check(target.label, profile)
            if paused is not None:
                self._log_refusal(request_id, target.label, paused, None)
                return paused
        outcome, bootstrap_failed = await self._within_budget(target, profile, cursor, internal_ext, request_id)
        if self.breakers is not None:
            refusal = outcome if isinstance(outcome, Refusal) else None
            self.breakers.record(target.label, profile, refusal, bootstrap=bootstrap_failed)
        return outcome

    async def _within_budget(
        self, target: _Target, profile: BrowserProfile, cursor: str, internal_ext: str, request_id: str
    ) -> tuple[Connected | Refusal, bool]:
        """The connect steps under one deadline; also says whether the identity never came (for breakers).

        One budget for the whole connect, retries included: a cold identity costs another TikTok round trip,
        and the client's own timeout (3 s in Java) does not care which of them was slow. Every awaited step
        runs in `call_with_retries`, which bounds each attempt by what is left of the deadline, so no timer
        of its own is needed here (each timer costs about 1.5% of a connect's CPU); a warm identity needs no
        await at all.
        """
        deadline = self._clock() + (self._deadline_s if self._deadline_s is not None else math.inf)
        warm = self._pool.ready(profile)
        identity = warm if warm is not None else await self._bootstrap(profile, deadline)
        if isinstance(identity, Refusal):
            self._log_refusal(request_id, target.label, identity, None)
            return identity, True
        room = await self._room(target, identity, cursor, internal_ext, deadline)
        if isinstance(room, Refusal):
            self._log_refusal(request_id, target.label, room, identity)
            return room, False
        return await self._fetch(room, identity, request_id, deadline), False

    async def _bootstrap(self, profile: BrowserProfile, deadline: float) -> Identity | Refusal:
        return await self._retrying("bootstrap", deadline, lambda: self._pool.acquire(profile))

    async def _retrying(self, step: str, deadline: float, attempt: Callable[[], Awaitable[T | Refusal]]) -> T | Refusal:
        def retried(refusal: Refusal, number: int, delay: float) -> None:
            logger.info("%s attempt %d: %s; retrying in %.0f ms", step, number, refusal.code, delay * 1000)
            if self._on_retry is not None:
                self._on_retry(step, refusal)

        return await call_with_retries(
            attempt, self._retry, deadline=deadline, clock=self._clock, rng=self._rng, on_retry=retried
        )

    def _target(self, room_id: str | None, unique_id: str | None) -> _Target:
        if room_id and room_id.strip() not in ("", "0"):  # Euler: room_id=0 means "use unique_id"
            return _Target(room_id=check_room_id(room_id))
        if not unique_id:
            raise InvalidInput("room_id", "missing")
        if self._rooms is None:
            raise InvalidInput("room_id", "missing (looking rooms up by unique_id is switched off)")
        normalised = normalise_unique_id(unique_id)
        if normalised is None:
            raise InvalidInput("unique_id", "must be 1..64 letters, digits, '.' or '_'")
        return _Target(unique_id=normalised)

    async def _room(
        self, target: _Target, identity: Identity, cursor: str, internal_ext: str, deadline: float
    ) -> RoomRequest | Refusal:
        room_id = target.room_id
        if room_id is None:
            rooms, unique_id = self._rooms, target.unique_id
            assert rooms is not None and unique_id is not None
            looked_up = await self._retrying("room_lookup", deadline, lambda: rooms.room_id_of(identity, unique_id))
            if isinstance(looked_up, Refusal):
                if looked_up.retires_identity:
                    self._pool.retire(identity, looked_up.code)
                return looked_up
            room_id = looked_up
        return RoomRequest(room_id, cursor, internal_ext)

    async def _fetch(
        self, room: RoomRequest, identity: Identity, request_id: str, deadline: float
    ) -> Connected | Refusal:
        # Each attempt signs afresh: a retried request carries its own timestamp and counters.
        outcome = await self._retrying("im_fetch", deadline, lambda: self._webcast.fetch(identity, room))
        if isinstance(outcome, Refusal):
            if outcome.retires_identity:
                self._pool.retire(identity, outcome.code)
            self._log_refusal(request_id, room.room_id, outcome, identity)
            return outcome
        return self._connected(outcome, room, request_id, identity)

    @staticmethod
    def _connected(outcome: Fetched, room: RoomRequest, request_id: str, identity: Identity) -> Connected:
        logger.debug("request %s room %s connected via identity %s", request_id, room.room_id, identity.key)
        return Connected(
            payload=outcome.payload.body,
            ttwid=outcome.ttwid,
            room_id=room.room_id,
            request_id=request_id,
            profile_name=identity.profile.name,
        )

    @staticmethod
    def _log_refusal(request_id: str, room_id: str, refusal: Refusal, identity: Identity | None) -> None:
        logger.warning(
            "request %s room %s refused: %s (%s) identity=%s",
            request_id,
            room_id,
            refusal.code,
            refusal.message,
            identity.key if identity else "-",
        )
