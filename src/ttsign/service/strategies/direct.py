"""The `direct` strategy: no im/fetch at all. Resolve the room, take an identity with a `ttwid` and budget left,
and answer with a fetch result synthesized around the page's own socket address (upstream/socket.py).

An identity whose socket-connect budget is spent is rotated (retired, so every replica moves on) and a fresh
one bootstrapped, once per request: a fresh identity has its whole budget. With a socket probe, ttsign opens
the socket itself first (one more connect of the budget); an identity TikTok refuses there (DEVICE_BLOCKED)
is retired for every replica and a fresh one tried, once. A handshake refused the way TikTok refuses a bad
signature (an empty 200, a 403) is tried again with the socket query signed by the next signer backend,
one more connect of the budget each; a backend is blamed only when another's signature is then accepted,
and the identity is retired only when every backend's signature was refused alike.
"""

from __future__ import annotations

import logging

from ttsign.service.strategies.base import Connected, ConnectRequest
from ttsign.service.strategies.steps import ConnectSteps, log_refusal
from ttsign.upstream.identity import ConnectBudget, Identity
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.signer import until_a_signature_is_accepted
from ttsign.upstream.socket import DirectSocket, SocketAddress
from ttsign.upstream.socket_probe import SocketProbe

logger = logging.getLogger(__name__)


class DirectStrategy:
    name = "direct"

    def __init__(
        self,
        steps: ConnectSteps,
        socket: DirectSocket,
        *,
        budget: ConnectBudget | None = None,
        probe: SocketProbe | None = None,
    ) -> None:
        self._steps = steps
        self._socket = socket
        self._budget = budget
        self._probe = probe
        self._connects = 2 if probe is not None else 1  # the probe's socket, then the client's

    async def connect(self, request: ConnectRequest) -> Connected | Refusal:
        found = await self._steps.identity_and_room(request, self.name, live=True)
        if isinstance(found, Refusal):
            return found
        identity, room_id = found
        accepted = await self._accepted(identity, room_id, request)
        if isinstance(accepted, Refusal):
            log_refusal(request.request_id, room_id, accepted, identity, self.name)
            return accepted
        spender, address = accepted
        return Connected(
            payload=address.payload,
            ttwid=spender.ttwid,
            room_id=room_id,
            request_id=request.request_id,
            profile_name=spender.profile.name,
            strategy=self.name,
            user_agent=spender.profile.user_agent,
        )

    async def _accepted(
        self, identity: Identity, room_id: str, request: ConnectRequest
    ) -> tuple[Identity, SocketAddress] | Refusal:
        """An identity with budget left (and, with the probe, one TikTok's socket accepts) and its address."""
        spender = await self._with_budget(identity, request)
        if isinstance(spender, Refusal):
            return spender
        outcome = await self._address(spender, room_id)
        if not isinstance(outcome, Refusal) or outcome.code is not RefusalCode.DEVICE_BLOCKED:
            return outcome
        fresh = await self._steps.identity(request)  # the blocked one was retired: this bootstraps another
        if isinstance(fresh, Refusal):
            return fresh
        spender = await self._with_budget(fresh, request)
        return spender if isinstance(spender, Refusal) else await self._address(spender, room_id)

    async def _address(self, identity: Identity, room_id: str) -> tuple[Identity, SocketAddress] | Refusal:
        if not identity.ttwid:
            return Refusal(RefusalCode.NO_TTWID, "the identity holds no ttwid for the socket")
        address = await self._socket.address(identity, room_id)
        if isinstance(address, Refusal):
            return address
        if self._probe is None:
            return identity, address
        accepted = await self._probed(self._probe, identity, room_id, address)
        if isinstance(accepted, Refusal):
            self._steps.retire_if_refused(identity, accepted)  # for every replica, through the shelf
            return accepted
        return identity, accepted

    async def _probed(
        self, probe: SocketProbe, identity: Identity, room_id: str, address: SocketAddress
    ) -> SocketAddress | Refusal:
        """The address (or one signed by a later backend) whose socket TikTok accepted, else TikTok's refusal."""

        async def prepare(besides: frozenset[str]) -> SocketAddress | Refusal:
            return address if not besides else await self._socket.address(identity, room_id, besides=besides)

        async def opened(candidate: SocketAddress) -> SocketAddress | Refusal:
            return await probe.check(candidate, identity) or candidate

        async def one_more_connect() -> bool:  # each further probe opens one more socket of the budget
            return self._budget is None or await self._budget.spend(identity)

        signer = self._socket.signer
        return await until_a_signature_is_accepted(signer, prepare, opened, before_next=one_more_connect)

    async def _with_budget(self, identity: Identity, request: ConnectRequest) -> Identity | Refusal:
        """`identity` when it may hand out this connect's sockets, else a fresh identity that may."""
        if self._budget is None or await self._budget.spend(identity, self._connects):
            return identity
        logger.info("identity %s spent its %d socket connects this hour; rotating", identity.key, self._budget.per_hour)
        self._steps.pool.retire(identity, "socket connect budget spent")
        fresh = await self._steps.identity(request)
        if isinstance(fresh, Refusal) or await self._budget.spend(fresh, self._connects):
            return fresh
        return Refusal(RefusalCode.DEVICE_BLOCKED, "a fresh identity's socket connect budget is spent too")
