"""The `fetch` strategy: send im/fetch for the room as the identity and hand TikTok's bytes on (the path of
ttsign before 2026-09; which signatures it carries is the operator's endpoint table)."""

from __future__ import annotations

from ttsign.service.strategies.base import Connected, ConnectRequest
from ttsign.service.strategies.steps import ConnectSteps, log_refusal
from ttsign.upstream.identity import Identity
from ttsign.upstream.refusals import Refusal
from ttsign.upstream.webcast import RoomRequest, WebcastClient


class FetchStrategy:
    name = "fetch"

    def __init__(self, steps: ConnectSteps, webcast: WebcastClient) -> None:
        self._steps = steps
        self._webcast = webcast

    async def connect(self, request: ConnectRequest) -> Connected | Refusal:
        found = await self._steps.identity_and_room(request, self.name, live=False)
        if isinstance(found, Refusal):
            return found
        identity, room_id = found
        return await self._fetch(RoomRequest(room_id, request.cursor, request.internal_ext), identity, request)

    async def _fetch(self, room: RoomRequest, identity: Identity, request: ConnectRequest) -> Connected | Refusal:
        # Each attempt signs afresh: a retried request carries its own timestamp and counters.
        outcome = await self._steps.retrying("im_fetch", request.deadline, lambda: self._webcast.fetch(identity, room))
        if isinstance(outcome, Refusal):
            self._steps.retire_if_refused(identity, outcome)
            log_refusal(request.request_id, room.room_id, outcome, identity, self.name)
            return outcome
        return Connected(
            payload=outcome.payload.body,
            ttwid=outcome.ttwid,
            room_id=room.room_id,
            request_id=request.request_id,
            profile_name=identity.profile.name,
            strategy=self.name,
            user_agent=identity.profile.user_agent,
        )
