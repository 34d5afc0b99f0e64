"""The connect use case: open a room for a client library and hand back TikTok's first payload.

Profile choice: the client will open the WebSocket with its own User-Agent, so when that UA maps to a
consistent browser profile we fetch as that browser (TikTok sees one browser throughout). When it cannot
be made consistent (bots, libraries, garbage) we fall back to the configured default profile rather than
refuse: the fetch itself is still coherent, and the clients cope with a different UA on the socket.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ttsign.service.rooms import InvalidInput, check_opaque, check_room_id
from ttsign.signing import BrowserProfile, ProfileError, default_profile, profile_from_user_agent
from ttsign.upstream.identity import Identity, IdentityPool
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.rooms import RoomDirectory, normalise_unique_id
from ttsign.upstream.webcast import Fetched, RoomRequest, WebcastClient

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
    ) -> None:
        self._deadline_s = deadline_s
        self._rooms = rooms
        self._pool = pool
        self._webcast = webcast
        self._default = default_profile(default_profile_name)
        self._honour_ua = honour_client_user_agent

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
        try:
            # One budget for the whole connect: a cold identity costs another TikTok round trip, and the
            # client's own timeout (3 s in Java) does not care which of them was slow.
            async with asyncio.timeout(self._deadline_s):
                identity = await self._pool.acquire(profile)
                if isinstance(identity, Refusal):
                    self._log_refusal(request_id, target.label, identity, None)
                    return identity
                room = await self._room(target, identity, cursor, internal_ext)
                if isinstance(room, Refusal):
                    self._log_refusal(request_id, target.label, room, identity)
                    return room
                return await self._fetch(room, identity, request_id)
        except TimeoutError:
            refusal = Refusal(RefusalCode.TIMEOUT, f"connect took over {self._deadline_s:g} s")
            self._log_refusal(request_id, target.label, refusal, None)
            return refusal

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

    async def _room(self, target: _Target, identity: Identity, cursor: str, internal_ext: str) -> RoomRequest | Refusal:
        room_id = target.room_id
        if room_id is None:
            assert self._rooms is not None and target.unique_id is not None
            looked_up = await self._rooms.room_id_of(identity, target.unique_id)
            if isinstance(looked_up, Refusal):
                if looked_up.retires_identity:
                    self._pool.retire(identity, looked_up.code)
                return looked_up
            room_id = looked_up
        return RoomRequest(room_id, cursor, internal_ext)

    async def _fetch(self, room: RoomRequest, identity: Identity, request_id: str) -> Connected | Refusal:
        outcome = await self._webcast.fetch(identity, room)
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
