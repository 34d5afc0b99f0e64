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
    ) -> None:
        self._deadline_s = deadline_s
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
        room_id: str,
        *,
        cursor: str = "",
        internal_ext: str = "",
        user_agent: str | None = None,
        request_id: str = "",
    ) -> Connected | Refusal:
        """Signed im/fetch for the room. Raises InvalidInput for bad input; TikTok's refusals are values."""
        room = RoomRequest(
            check_room_id(room_id),
            check_opaque("cursor", cursor),
            check_opaque("internal_ext", internal_ext),
        )
        profile = self.choose_profile(user_agent)
        try:
            # One budget for the whole connect: a cold identity costs a second TikTok round trip, and the
            # client's own timeout (3 s in Java) does not care which of the two was slow.
            async with asyncio.timeout(self._deadline_s):
                return await self._connect(room, profile, request_id)
        except TimeoutError:
            refusal = Refusal(RefusalCode.TIMEOUT, f"connect took over {self._deadline_s:g} s")
            self._log_refusal(request_id, room.room_id, refusal, None)
            return refusal

    async def _connect(self, room: RoomRequest, profile: BrowserProfile, request_id: str) -> Connected | Refusal:
        acquired = await self._pool.acquire(profile)
        if isinstance(acquired, Refusal):
            self._log_refusal(request_id, room.room_id, acquired, None)
            return acquired
        outcome = await self._webcast.fetch(acquired, room)
        if isinstance(outcome, Refusal):
            if outcome.retires_identity:
                self._pool.retire(acquired, outcome.code)
            self._log_refusal(request_id, room.room_id, outcome, acquired)
            return outcome
        return self._connected(outcome, room, request_id, acquired)

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
