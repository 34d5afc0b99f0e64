"""Rooms shared by replicas: one TikTok socket per room across all of them (issue 14 item 1, with Redis).

The replica that wins a room's lease opens TikTok and publishes every frame it reads; the others follow the
room's channel and decode the same frames. The owner keeps its socket while other replicas still watch the
room, even with no consumer of its own. When the owner goes (it closes, or dies and its lease runs out),
a watcher's link ends like a dropped socket: its session reopens, takes the lease and opens TikTok itself,
and the msg_ids it already relayed are not relayed twice. Consumers stay connected throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from ttsign.proto import webcast_pb2 as pb
from ttsign.relay.close_codes import CloseCode
from ttsign.relay.frames import FrameError, OtherFrame, PushedBatch, decode_frame
from ttsign.relay.upstream import OpenFailure, Upstream, UpstreamLink
from ttsign.store.redis_relay import RelayExchange

logger = logging.getLogger(__name__)

OWNER_LEFT = "ttsign_owner_left"  # payload_type of the frame an owner publishes when it lets a room go
_OWNER_LEFT_FRAME = pb.WebcastPushFrame(payload_type=OWNER_LEFT).SerializeToString()


class OwnerLink:
    """The lease holder's link: TikTok's frames, each also published; the lease renewed while it is open."""

    def __init__(self, inner: UpstreamLink, exchange: RelayExchange, unique_id: str, lease_s: float) -> None:
        self.room_id = inner.room_id
        self.initial = inner.initial
        self._inner = inner
        self._exchange = exchange
        self._unique_id = unique_id
        self._lease_s = lease_s
        self._renewing = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                kept = await self._exchange.renew(self._unique_id, self._lease_s)
                await self._exchange.set_room_id(self._unique_id, self.room_id, self._lease_s)
            except RedisError as exc:
                logger.warning("room @%s: lease not renewed (%s)", self._unique_id, type(exc).__name__)
                continue
            if not kept:  # another replica holds it now: two sockets would be one too many
                logger.warning("room @%s: lease lost; closing this replica's socket", self._unique_id)
                await self._inner.close()
                return

    async def batches(self) -> AsyncIterator[PushedBatch]:
        async for batch in self._inner.batches():
            try:
                await self._exchange.publish(self._unique_id, batch.raw)
            except RedisError as exc:
                logger.warning("room @%s: frame not forwarded (%s)", self._unique_id, type(exc).__name__)
            yield batch

    async def close(self) -> None:
        self._renewing.cancel()
        await self._inner.close()
        with contextlib.suppress(RedisError):
            await self._exchange.release(self._unique_id)
            await self._exchange.publish(self._unique_id, _OWNER_LEFT_FRAME)


class WatcherLink:
    """A replica's view of a room another replica owns: the owner's frames, from the room's channel."""

    def __init__(self, exchange: RelayExchange, pubsub: PubSub, unique_id: str, room_id: str, lease_s: float) -> None:
        self.room_id = room_id
        self._pubsub = pubsub
        self.initial: tuple[pb.BaseProtoMessage, ...] = ()
        self._exchange = exchange
        self._unique_id = unique_id
        self._lease_s = lease_s
        self._closed = asyncio.Event()

    async def _owner_alive(self) -> bool:
        await self._exchange.watch(self._unique_id, self._lease_s)
        return await self._exchange.owned(self._unique_id)

    async def _next_frame(self, timeout: float) -> PushedBatch | str | None:
        """The next forwarded frame, OWNER_LEFT, "" for a message that is no frame, or None: nothing came."""
        message = await self._pubsub.get_message(timeout=timeout)
        if message is None:
            return None
        if message.get("type") != "message":
            return ""  # subscribe confirmations
        try:
            frame = decode_frame(message["data"])
        except FrameError:
            return ""
        if isinstance(frame, OtherFrame):
            return OWNER_LEFT if frame.payload_type == OWNER_LEFT else ""
        return frame

    async def batches(self) -> AsyncIterator[PushedBatch]:
        loop = asyncio.get_running_loop()
        check_at = loop.time() + self._lease_s / 3  # the owner held the lease when this link was made
        try:
            while not self._closed.is_set():
                frame = await self._next_frame(min(1.0, self._lease_s / 3))
                if frame is None and loop.time() >= check_at:
                    # Judged only when nothing came: an owner's last frames precede its letting go.
                    if not await self._owner_alive():
                        return  # the owner is gone: the session reopens and may take the room itself
                    check_at = loop.time() + self._lease_s / 3
                if frame == OWNER_LEFT:
                    return
                if isinstance(frame, PushedBatch):
                    yield frame
        except RedisError as exc:
            logger.warning("room @%s: channel lost (%s)", self._unique_id, type(exc).__name__)
        finally:
            await self._exchange.unsubscribe(self._pubsub)
            with contextlib.suppress(RedisError):
                await self._exchange.unwatch(self._unique_id)

    async def close(self) -> None:
        self._closed.set()


class SharedUpstream:
    """An Upstream for replicas: the room's lease decides who opens TikTok; the others watch."""

    def __init__(self, local: Upstream, exchange: RelayExchange, *, lease_s: float = 10.0) -> None:
        self._local = local
        self._exchange = exchange
        self._lease_s = lease_s

    async def open(self, unique_id: str) -> UpstreamLink | OpenFailure:
        try:
            return await self._open(unique_id)
        except RedisError as exc:
            # Without Redis no replica can know who owns the room: refusing beats a socket per replica.
            return OpenFailure(CloseCode.INTERNAL_ERROR, f"shared store unreachable ({type(exc).__name__})")

    async def _open(self, unique_id: str) -> UpstreamLink | OpenFailure:
        deadline = asyncio.get_running_loop().time() + self._lease_s
        while True:
            if await self._exchange.acquire(unique_id, self._lease_s):
                return await self._own(unique_id)
            room_id = await self._exchange.room_id(unique_id)
            if room_id is not None and room_id.startswith("!"):  # the owner's open failed: the same for us
                code, _, detail = room_id[1:].partition(" ")
                return OpenFailure(CloseCode(int(code)), detail)
            if room_id is not None:
                await self._exchange.watch(unique_id, self._lease_s)
                pubsub = await self._exchange.subscribe(unique_id)
                return WatcherLink(self._exchange, pubsub, unique_id, room_id, self._lease_s)
            # The owner is still opening its socket (or failing to): wait for its room id or its lease to go.
            if asyncio.get_running_loop().time() >= deadline:
                return OpenFailure(CloseCode.WEBCAST_FETCH_ERROR, "another replica could not open the room")
            await asyncio.sleep(0.1)

    async def _own(self, unique_id: str) -> UpstreamLink | OpenFailure:
        outcome = await self._local.open(unique_id)
        if isinstance(outcome, OpenFailure):
            # Replicas waiting on this room learn why, instead of waiting out the lease.
            await self._exchange.set_room_id(unique_id, f"!{int(outcome.code)} {outcome.detail}", 2.0)
            await self._exchange.release(unique_id)
            return outcome
        await self._exchange.set_room_id(unique_id, outcome.room_id, self._lease_s)
        return OwnerLink(outcome, self._exchange, unique_id, self._lease_s)

    async def wanted_elsewhere(self, unique_id: str) -> bool:
        try:
            return await self._exchange.watched_elsewhere(unique_id)
        except RedisError:
            return False

    async def close(self) -> None:
        await self._exchange.close()
