"""The connect strategy interface: one small protocol, and the values every strategy takes and gives.

A strategy answers "connect this room" its own way (`direct`: synthesize the socket address; `fetch`: send
im/fetch). The service tries them in the configured order; a refusal another strategy could avoid falls
through to the next one (`falls_through`), inside the same request deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ttsign.signing import BrowserProfile
from ttsign.upstream.refusals import Refusal, RefusalCode

# Refusals that judge the path, not the room: another strategy may well get through (issue 17).
_FALLS_THROUGH = frozenset(
    {RefusalCode.EMPTY_200, RefusalCode.FORBIDDEN_403, RefusalCode.DEVICE_BLOCKED, RefusalCode.NO_TTWID}
)


def falls_through(refusal: Refusal) -> bool:
    """Whether the next strategy should be tried after this refusal."""
    return refusal.code in _FALLS_THROUGH


@dataclass(frozen=True)
class Connected:
    """What a client needs to open the room's WebSocket."""

    payload: bytes
    ttwid: str
    room_id: str
    request_id: str
    profile_name: str
    strategy: str = ""
    user_agent: str = ""  # the identity's: the client's socket should present the same browser


@dataclass(frozen=True)
class Target:
    """The room a client asked for: by id, or by the streamer's unique id (looked up first)."""

    room_id: str | None = None
    unique_id: str | None = None

    @property
    def label(self) -> str:
        return self.room_id or f"@{self.unique_id}"


@dataclass
class ConnectRequest:
    """One client's connect, as every strategy sees it. `room_id` is filled in once resolved, so the next
    strategy does not look the streamer up again."""

    target: Target
    profile: BrowserProfile
    cursor: str
    internal_ext: str
    request_id: str
    deadline: float  # on the service's clock
    room_id: str | None = None
    identity_failed: bool = False  # the last identity bootstrap was refused


class ConnectStrategy(Protocol):
    """Serves a connect, or says why not (refusals are values; bad input was refused before)."""

    name: str

    async def connect(self, request: ConnectRequest) -> Connected | Refusal: ...
