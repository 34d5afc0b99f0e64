"""The connect use case: open a room for a client library, by the first connect strategy that gets through.

Strategies (service/strategies/) are tried in the configured order within one deadline; a refusal another
strategy could avoid (empty 200, 403, DEVICE_BLOCKED, no ttwid) falls through to the next. Each strategy has
a breaker of its own: one whose path TikTok keeps refusing is skipped for a cooldown rather than tried first
on every connect. The room and identity breakers stay around the whole connect, as before strategies.

Profile choice: the client will open the WebSocket with its own User-Agent, so when that UA maps to a
consistent browser profile we act as that browser (TikTok sees one browser throughout). When it cannot
be made consistent (bots, libraries, garbage) we fall back to the configured default profile rather than
refuse: the identity is still coherent, and the clients cope with a different UA on the socket.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence

from ttsign.service.new_identities import NewIdentityBudget
from ttsign.service.resilience import ConnectBreakers
from ttsign.service.rooms import InvalidInput, check_opaque, check_room_id
from ttsign.service.strategies import (
    Connected,
    ConnectRequest,
    ConnectSteps,
    ConnectStrategy,
    DirectStrategy,
    FetchStrategy,
    OnRetry,
    RelayDoorSlot,
    RelayStrategy,
    Target,
    falls_through,
)
from ttsign.signing import BrowserProfile, ProfileError, default_profile, profile_from_user_agent
from ttsign.upstream.breaker import BreakerBoard
from ttsign.upstream.identity import ConnectBudget, IdentityPool
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.retry import NO_RETRY, RetryPolicy
from ttsign.upstream.rooms import RoomDirectory, normalise_unique_id
from ttsign.upstream.socket import DirectSocket
from ttsign.upstream.socket_probe import SocketProbe
from ttsign.upstream.webcast import WebcastClient

OnOutcome = Callable[[str, str], None]  # (strategy, "served" or the refusal code), for metrics

logger = logging.getLogger(__name__)

__all__ = ["ConnectService", "Connected", "InvalidInput", "OnRetry"]

_ROOM_STATES = frozenset({RefusalCode.ROOM_NOT_LIVE, RefusalCode.ROOM_NOT_FOUND})


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
        strategies: Sequence[str] = ("fetch",),
        socket: DirectSocket | None = None,
        budget: ConnectBudget | None = None,
        probe: SocketProbe | None = None,
        strategy_breakers: BreakerBoard | None = None,
        on_outcome: OnOutcome | None = None,
        new_identities: NewIdentityBudget | None = None,
    ) -> None:
        self._deadline_s = deadline_s
        self._pool = pool
        self._new_identities = new_identities
        self.breakers = breakers
        self._clock = clock
        self._rooms = rooms
        self._default = default_profile(default_profile_name)
        self._honour_ua = honour_client_user_agent
        self._on_outcome = on_outcome
        self._on_retry = on_retry
        steps = ConnectSteps(
            pool, rooms, retry=retry, clock=clock, rng=rng or random.SystemRandom(), on_retry=self._retried
        )
        self.relay_door = RelayDoorSlot()  # the API layer attaches the relay once it is built
        self.strategies: tuple[ConnectStrategy, ...] = tuple(
            RelayStrategy(self.relay_door)
            if name == "relay"
            else self._strategy(name, steps, webcast, socket, budget, probe)
            for name in strategies
        )
        if not self.strategies:
            raise ValueError("at least one connect strategy is needed")
        self.strategy_breakers = strategy_breakers

    @staticmethod
    def _strategy(  # noqa: PLR0917 - one place maps names to strategies and what each needs
        name: str,
        steps: ConnectSteps,
        webcast: WebcastClient,
        socket: DirectSocket | None,
        budget: ConnectBudget | None,
        probe: SocketProbe | None,
    ) -> ConnectStrategy:
        if name == "fetch":
            return FetchStrategy(steps, webcast)
        if name == "direct":
            if socket is None:
                raise ValueError("the direct strategy needs a DirectSocket")
            return DirectStrategy(steps, socket, budget=budget, probe=probe)
        raise ValueError(f"unknown connect strategy {name!r}; known: direct, fetch, relay")

    def _retried(self, step: str, refusal: Refusal) -> None:
        if self._on_retry is not None:
            self._on_retry(step, refusal)

    @property
    def default_profile(self) -> BrowserProfile:
        return self._default

    def choose_profile(self, user_agent: str | None, caller: str | None = None) -> BrowserProfile:
        """The caller's browser when consistent (and, when it needs a new identity, within the new-identity
        budget of `caller`), else the default (see the module docstring)."""
        if not user_agent or not self._honour_ua:
            return self._default
        try:
            wanted = profile_from_user_agent(user_agent)
        except ProfileError as exc:
            logger.debug("client user agent not usable (%s); using profile %s", exc, self._default.name)
            return self._default
        if self._new_identities is None:
            return wanted
        return self._new_identities.choose(wanted, self._default, self._pool, caller)

    async def connect(
        self,
        room_id: str | None = None,
        *,
        unique_id: str | None = None,
        cursor: str = "",
        internal_ext: str = "",
        user_agent: str | None = None,
        request_id: str = "",
        without: frozenset[str] = frozenset(),
        caller: str | None = None,
    ) -> Connected | Refusal:
        """Connect the room (or the streamer's room when only `unique_id` is given) by the first strategy that
        gets through. Raises InvalidInput for bad input; TikTok's refusals come back as values.
        `without`: strategies not to try (the relay connects to TikTok with all but itself); `caller`: the
        admitted caller's label, whose budget of new identities a new browser User-Agent spends."""
        target = self._target(room_id, unique_id)
        cursor = check_opaque("cursor", cursor)
        internal_ext = check_opaque("internal_ext", internal_ext)
        profile = self.choose_profile(user_agent, caller)
        if self.breakers is not None:
            paused = self.breakers.check(target.label, profile)
            if paused is not None:
                logger.warning("request %s room %s refused: %s", request_id, target.label, paused.code)
                return paused
        deadline = self._clock() + (self._deadline_s if self._deadline_s is not None else math.inf)
        request = ConnectRequest(target, profile, cursor, internal_ext, request_id, deadline)
        outcome = await self._first_through(request, without)
        if self.breakers is not None:
            refusal = outcome if isinstance(outcome, Refusal) else None
            self.breakers.record(target.label, profile, refusal, bootstrap=request.identity_failed)
        return outcome

    async def _first_through(self, request: ConnectRequest, without: frozenset[str]) -> Connected | Refusal:
        """Try the strategies in order; the first success, or the refusals (the last one's code) when none."""
        refused: list[tuple[str, Refusal]] = []
        strategies = [strategy for strategy in self.strategies if strategy.name not in without]
        if not strategies:
            return Refusal(RefusalCode.NO_STRATEGY, f"no connect strategy besides {', '.join(sorted(without))}")
        for strategy in strategies:
            if refused and self._clock() >= request.deadline:
                break
            paused = self._paused(strategy.name)
            if paused is not None:
                refused.append((strategy.name, paused))
                continue
            outcome = await strategy.connect(request)
            self._account(strategy.name, outcome)
            if isinstance(outcome, Connected):
                return outcome
            refused.append((strategy.name, outcome))
            if not falls_through(outcome):
                break
            if strategy is not strategies[-1]:
                logger.info("request %s: %s refused (%s); trying the next strategy", request.request_id, *refused[-1])
        return _summary(refused)

    def _paused(self, name: str) -> Refusal | None:
        if self.strategy_breakers is None:
            return None
        wait = self.strategy_breakers.check(name)
        if wait is None:
            return None
        return Refusal(
            RefusalCode.CIRCUIT_OPEN,
            f"strategy {name}: repeated refusals, paused for {math.ceil(wait)} s",
            retry_after_s=wait,
        )

    def _account(self, name: str, outcome: Connected | Refusal) -> None:
        refusal = outcome if isinstance(outcome, Refusal) else None
        if self.strategy_breakers is not None:
            if refusal is None or refusal.code in _ROOM_STATES:
                self.strategy_breakers.record_success(name)
            elif falls_through(refusal):
                self.strategy_breakers.record_failure(name)
        if self._on_outcome is not None:
            self._on_outcome(name, "served" if refusal is None else str(refusal.code))

    def _target(self, room_id: str | None, unique_id: str | None) -> Target:
        if room_id and room_id.strip() not in ("", "0"):  # Euler: room_id=0 means "use unique_id"
            return Target(room_id=check_room_id(room_id))
        if not unique_id:
            raise InvalidInput("room_id", "missing")
        if self._rooms is None:
            raise InvalidInput("room_id", "missing (looking rooms up by unique_id is switched off)")
        normalised = normalise_unique_id(unique_id)
        if normalised is None:
            raise InvalidInput("unique_id", "must be 1..64 letters, digits, '.' or '_'")
        return Target(unique_id=normalised)


def _summary(refused: list[tuple[str, Refusal]]) -> Refusal:
    """One refusal for the client: the last real one (a paused strategy says less), naming every strategy's."""
    real = [refusal for _, refusal in refused if refusal.code is not RefusalCode.CIRCUIT_OPEN]
    last = real[-1] if real else refused[-1][1]
    if len(refused) == 1:
        return last
    tried = "; ".join(f"{name}: {refusal.code}" for name, refusal in refused)
    detail = f"{last.detail}; strategies {tried}" if last.detail else f"strategies {tried}"
    retry_after = last.retry_after_s if last.code is RefusalCode.CIRCUIT_OPEN else None
    return Refusal(last.code, detail, last.upstream_status, retry_after)
