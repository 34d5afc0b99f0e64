"""A scripted upstream for room-session tests: links whose frames the test pushes one by one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ttsign.proto import webcast_pb2 as pb
from ttsign.relay.close_codes import CloseCode
from ttsign.relay.frames import PushedBatch
from ttsign.relay.upstream import OpenFailure


def chat(msg_id: int, text: str) -> pb.BaseProtoMessage:
    payload = pb.WebcastChatMessage(content=text).SerializeToString()
    return pb.BaseProtoMessage(method="WebcastChatMessage", payload=payload, msg_id=msg_id)


def control(msg_id: int, action: int) -> pb.BaseProtoMessage:
    payload = pb.WebcastControlMessage(action=action).SerializeToString()  # type: ignore[arg-type]
    return pb.BaseProtoMessage(method="WebcastControlMessage", payload=payload, msg_id=msg_id)


def viewers(msg_id: int, total: int) -> pb.BaseProtoMessage:
    payload = pb.WebcastRoomUserSeqMessage(total=total).SerializeToString()
    return pb.BaseProtoMessage(method="WebcastRoomUserSeqMessage", payload=payload, msg_id=msg_id)


def batch(*messages: pb.BaseProtoMessage) -> PushedBatch:
    """A pushed frame as TikTok would send it (uncompressed), decoded as the relay decodes it."""
    result = pb.ProtoMessageFetchResult(messages=messages, cursor="c", internal_ext="ie")
    raw = pb.WebcastPushFrame(log_id=1, payload_type="msg", payload_encoding="pb", payload=result.SerializeToString())
    return PushedBatch(
        log_id=1, need_ack=False, internal_ext="ie", cursor="c", messages=messages, raw=raw.SerializeToString()
    )


class FakeLink:
    def __init__(self, room_id: str = "7390", initial: tuple[pb.BaseProtoMessage, ...] = ()) -> None:
        self.room_id = room_id
        self.initial = initial
        self._frames: asyncio.Queue[PushedBatch | None] = asyncio.Queue()
        self.closed = asyncio.Event()

    def push(self, *messages: pb.BaseProtoMessage) -> None:
        self._frames.put_nowait(batch(*messages))

    def drop(self) -> None:
        """TikTok closes the socket."""
        self._frames.put_nowait(None)

    async def batches(self) -> AsyncIterator[PushedBatch]:
        while (frame := await self._frames.get()) is not None:
            yield frame

    async def close(self) -> None:
        self.closed.set()
        self._frames.put_nowait(None)


class FakeUpstream:
    """Hands out the scripted outcomes in order (a link or a failure), then refuses."""

    def __init__(self, *outcomes: FakeLink | OpenFailure) -> None:
        self.outcomes = list(outcomes)
        self.opens = 0
        self.opened = asyncio.Event()

    async def open(self, unique_id: str) -> FakeLink | OpenFailure:
        self.opens += 1
        self.opened.set()
        if not self.outcomes:
            return OpenFailure(CloseCode.WEBCAST_FETCH_ERROR, "no more scripted links")
        return self.outcomes.pop(0)

    async def wanted_elsewhere(self, unique_id: str) -> bool:
        return False

    async def close(self) -> None:
        return None
