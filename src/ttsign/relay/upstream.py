"""What a room session needs from TikTok, as one small interface: open a room's push socket, read its
batches, close it. `tiktok.TikTokUpstream` is the real one; tests give the session fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from ttsign.proto import webcast_pb2 as pb
from ttsign.relay.close_codes import CloseCode
from ttsign.relay.frames import PushedBatch


@dataclass(frozen=True)
class OpenFailure:
    """Why a room's socket could not be opened, as the close code its consumers get."""

    code: CloseCode
    detail: str = ""


class UpstreamLink(Protocol):
    """One open push socket for one room."""

    room_id: str
    initial: tuple[pb.BaseProtoMessage, ...]  # the messages of the first fetch result

    def batches(self) -> AsyncIterator[PushedBatch]:
        """The socket's `msg` frames in order; ends when the socket closes, for whatever reason."""
        ...

    async def close(self) -> None: ...


class Upstream(Protocol):
    async def open(self, unique_id: str) -> UpstreamLink | OpenFailure: ...

    async def wanted_elsewhere(self, unique_id: str) -> bool:
        """Whether another replica still has consumers of the room (its socket must then stay open)."""
        ...

    async def close(self) -> None: ...
