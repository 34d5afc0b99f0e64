"""The `relay` strategy (issue 14 item 4): the client's socket goes to ttsign's own relay, not to TikTok.

The answer is a fetch result whose `push_server` is ttsign's push socket, which speaks TikTok's protocol to
the unmodified client while the relay holds the room's one TikTok socket (ttsign.relay). The relay itself
connects through this same service with the other strategies, so it is plugged in after both are built
(`RelayDoorSlot.attach`), and until then the strategy refuses.
"""

from __future__ import annotations

from typing import Protocol

from ttsign.service.strategies.base import Connected, ConnectRequest, Target
from ttsign.upstream.refusals import Refusal, RefusalCode

NAME = "relay"


class RelayDoor(Protocol):
    async def open_for_client(self, target: Target, request_id: str) -> Connected | Refusal:
        """The room's relay socket opened (or why not), and the fetch result pointing a client at it."""
        ...


class RelayDoorSlot:
    """Where the API layer plugs the relay in once it exists."""

    def __init__(self) -> None:
        self.door: RelayDoor | None = None

    def attach(self, door: RelayDoor) -> None:
        self.door = door


class RelayStrategy:
    name = NAME

    def __init__(self, slot: RelayDoorSlot) -> None:
        self._slot = slot

    async def connect(self, request: ConnectRequest) -> Connected | Refusal:
        door = self._slot.door
        if door is None:
            return Refusal(RefusalCode.NO_STRATEGY, "the relay strategy is configured but the relay is not running")
        return await door.open_for_client(request.target, request.request_id)
