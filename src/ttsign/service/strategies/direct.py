"""The `direct` strategy: no im/fetch at all. Resolve the room, take an identity with a `ttwid` and budget left,
and answer with a fetch result synthesized around the page's own socket address (upstream/socket.py).

An identity whose socket-connect budget is spent is rotated (retired, so every replica moves on) and a fresh
one bootstrapped, once per request: a fresh identity has its whole budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ttsign.service.strategies.base import Connected, ConnectRequest
from ttsign.service.strategies.steps import ConnectSteps, log_refusal
from ttsign.upstream.identity import ConnectBudget, Identity
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.socket import DirectSocket

logger = logging.getLogger(__name__)


class DirectStrategy:
    name = "direct"

    def __init__(
        self,
        steps: ConnectSteps,
        socket: DirectSocket,
        *,
        budget: ConnectBudget | None = None,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._steps = steps
        self._socket = socket
        self._budget = budget
        self._now_ms = now_ms

    async def connect(self, request: ConnectRequest) -> Connected | Refusal:
        identity = await self._steps.identity(request)
        if isinstance(identity, Refusal):
            log_refusal(request.request_id, request.target.label, identity, None, self.name)
            return identity
        room_id = await self._steps.live_room_id(request, identity)
        if isinstance(room_id, Refusal):
            log_refusal(request.request_id, request.target.label, room_id, identity, self.name)
            return room_id
        spender = await self._with_budget(identity, request)
        if isinstance(spender, Refusal):
            log_refusal(request.request_id, room_id, spender, identity, self.name)
            return spender
        if not spender.ttwid:
            refusal = Refusal(RefusalCode.NO_TTWID, "the identity holds no ttwid for the socket")
            log_refusal(request.request_id, room_id, refusal, spender, self.name)
            return refusal
        address = self._socket.address(spender, room_id)
        return Connected(
            payload=address.fetch_result(now_ms=self._now_ms()),
            ttwid=spender.ttwid,
            room_id=room_id,
            request_id=request.request_id,
            profile_name=spender.profile.name,
            strategy=self.name,
            user_agent=spender.profile.user_agent,
        )

    async def _with_budget(self, identity: Identity, request: ConnectRequest) -> Identity | Refusal:
        """`identity` when it may hand out one more socket connect, else a fresh identity that may."""
        if self._budget is None or await self._budget.spend(identity):
            return identity
        logger.info("identity %s spent its %d socket connects this hour; rotating", identity.key, self._budget.per_hour)
        self._steps.pool.retire(identity, "socket connect budget spent")
        fresh = await self._steps.identity(request)
        if isinstance(fresh, Refusal) or await self._budget.spend(fresh):
            return fresh
        return Refusal(RefusalCode.DEVICE_BLOCKED, "a fresh identity's socket connect budget is spent too")
