"""What the server is working with right now, for the operator console: connect strategies and signer backends
with their breakers, the other breakers, the identity pool with each identity's connect budget, the relay's
rooms and consumers, and the drift check's last result.

Parts another component provides (signer backends, the relay, the drift check) are read through small
duck-typed looks, so the console shows them when they are wired in and says "none" when they are not.
No secret is read: identities are shown by their opaque key, consumers by their caller subject (anonymous
addresses hashed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ttsign.service.connect import ConnectService
from ttsign.service.usage import subject_of
from ttsign.upstream.breaker import BreakerBoard
from ttsign.upstream.identity import ConnectBudget, Identity, IdentityPool

NOT_RUN = "not run"


@dataclass(frozen=True)
class Component:
    """A connect strategy or signer backend, in its configured order, with its breaker's state."""

    name: str
    breaker: str  # closed, open, half_open; "none" when it has no breaker


@dataclass(frozen=True)
class IdentityState:
    key: str  # opaque id, safe to show
    profile: str
    age_s: float
    uses: int
    budget_left: int | None  # socket connects left this hour; None: no budget applies or it is unreadable


@dataclass(frozen=True)
class RelayRoom:
    unique_id: str
    consumers: int
    callers: list[str]  # caller subjects (key:<id>, or anon:<digest>)


@dataclass(frozen=True)
class ServingState:
    strategies: list[Component]
    signers: list[Component]
    breakers_open: dict[str, int]  # scope -> breakers open or half-open
    identities: list[IdentityState]
    pool_size: int
    budget_per_hour: int | None
    relay_rooms: list[RelayRoom] | None  # None: no relay in this server
    drift_check: dict[str, Any]  # {"status": "not run"} until a drift check has run


async def serving_state(
    connect: ConnectService,
    pool: IdentityPool,
    *,
    pool_size: int,
    budget: ConnectBudget | None,
    signers: object | None = None,
    relay: object | None = None,
    drift_check: object | None = None,
) -> ServingState:
    strategies = [Component(s.name, _state(connect.strategy_breakers, s.name)) for s in connect.strategies]
    signer_board = getattr(signers, "breakers", None)
    signer_names: Iterable[str] = getattr(signers, "names", ()) or ()
    signer_list = [Component(name, _state(signer_board, name)) for name in signer_names]
    boards: list[BreakerBoard] = []
    if connect.breakers is not None:
        boards += [connect.breakers.rooms, connect.breakers.identities]
    boards += [b for b in (connect.strategy_breakers, signer_board) if isinstance(b, BreakerBoard)]
    return ServingState(
        strategies=strategies,
        signers=signer_list,
        breakers_open={board.scope: board.open_count() for board in boards},
        identities=[await _identity(identity, age, budget) for identity, age in pool.warm_identities()],
        pool_size=pool_size,
        budget_per_hour=budget.per_hour if budget is not None else None,
        relay_rooms=_relay_rooms(relay),
        drift_check=_drift(drift_check),
    )


def _state(board: object, name: str) -> str:
    return str(board.state(name)) if isinstance(board, BreakerBoard) else "none"


async def _identity(identity: Identity, age_s: float, budget: ConnectBudget | None) -> IdentityState:
    left = await budget.remaining(identity) if budget is not None else None
    return IdentityState(identity.key, identity.profile.name, round(age_s, 1), identity.uses, left)


def _relay_rooms(relay: object | None) -> list[RelayRoom] | None:
    rooms = getattr(relay, "rooms", None)
    if not isinstance(rooms, dict):
        return None
    shown = []
    for unique_id, session in sorted(rooms.items()):
        consumers = list(getattr(session, "consumers", ()))
        callers = sorted({subject_of(str(getattr(c, "label", "") or "anonymous")) for c in consumers})
        shown.append(RelayRoom(str(unique_id), len(consumers), callers))
    return shown


def _drift(drift_check: object | None) -> dict[str, Any]:
    """The drift check's last result when one ran (an object with `last_result()` giving a dict), else not run."""
    last = getattr(drift_check, "last_result", None)
    result = last() if callable(last) else None
    return dict(result) if isinstance(result, dict) else {"status": NOT_RUN}
