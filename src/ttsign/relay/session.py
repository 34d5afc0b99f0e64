"""A room session: one upstream socket for one live room, shared by every consumer of that room.

Lifecycle: the first consumer starts it (the socket opens, or the open's failure ends every waiting
consumer with its code); events fan out to every consumer's bounded queue; when the last consumer leaves,
the socket stays open for a grace period (a reload or a reconnecting overlay keeps the same socket, and
TikTok sees fewer connects) and then closes. A dropped socket is reopened with exponential backoff, and
messages already relayed (by msg_id) are not relayed twice; when the attempts run out the consumers are
ended with 4500. A stream-end control message ends them with 4005, after the events before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ttsign.proto import webcast_pb2 as pb
from ttsign.relay.close_codes import CloseCode
from ttsign.relay.consumer import Consumer, Delivery, Ending
from ttsign.relay.events import Event, ends_stream, event_of, is_viewer_count
from ttsign.relay.upstream import OpenFailure, Upstream, UpstreamLink

logger = logging.getLogger(__name__)

# Frames kept (their bytes only: decoded events and JSON would cost 10 KB a frame, 64 MB over 100 rooms, and
# the collector's time) for a relay-mode client whose socket arrives just after its connect.
RECENT_FRAMES = 64
SEEN_IDS = 2048  # msg_ids remembered across a reconnect, so a replayed message is relayed once
# A reopened socket that lives this long, or brings a new message, has proven itself: the reopen budget is
# whole again. One that dies sooner with nothing new counts against it (TikTok refusing us in slow motion).
STABLE_S = 60.0


@dataclass(frozen=True)
class SessionPolicy:
    queue_size: int = 256
    grace_s: float = 10.0
    reconnect_attempts: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0


@dataclass(frozen=True)
class RoomInfo:
    unique_id: str
    room_id: str


class _Outcome(enum.Enum):
    STREAM_END = "stream_end"
    DROPPED = "dropped"
    IDLE = "idle"


class RoomSession:
    def __init__(
        self,
        unique_id: str,
        upstream: Upstream,
        policy: SessionPolicy,
        *,
        on_closed: Callable[[RoomSession], None] = lambda session: None,
        on_socket: Callable[[], None] = lambda: None,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.unique_id = unique_id
        self._upstream = upstream
        self._policy = policy
        self._on_closed = on_closed
        self._on_socket = on_socket
        self._now_ms = now_ms
        self.consumers: set[Consumer] = set()
        self.opened: asyncio.Future[RoomInfo | OpenFailure] = asyncio.get_running_loop().create_future()
        self.closing = False  # no new consumers: the session is on its way out
        self.viewers: Event | None = None  # the latest viewer count, for consumers that join later
        self.sockets_opened = 0
        self._link: UpstreamLink | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self.recent: deque[Delivery] = deque(maxlen=RECENT_FRAMES)
        self._seen: deque[int] = deque(maxlen=SEEN_IDS)
        self._seen_set: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._reopens_left = policy.reconnect_attempts
        self._relayed = 0  # new messages relayed so far
        self._closer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"relay-room-{self.unique_id}")

    # ---- consumers ----

    def add(self, consumer: Consumer) -> None:
        self.consumers.add(consumer)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def remove(self, consumer: Consumer) -> None:
        self.consumers.discard(consumer)
        if not self.consumers and not self.closing and self._idle_timer is None:
            self._idle_timer = asyncio.get_running_loop().call_later(self._policy.grace_s, self._go_idle)

    def _go_idle(self) -> None:
        self._idle_timer = None
        if not self.consumers and not self.closing:
            self._closer = asyncio.create_task(self._idle())

    async def _idle(self) -> None:
        """Close the socket, unless a consumer came back or another replica still watches the room."""
        elsewhere = await self._upstream.wanted_elsewhere(self.unique_id)
        if self.consumers or self.closing:
            return
        if elsewhere:
            self._idle_timer = asyncio.get_running_loop().call_later(self._policy.grace_s, self._go_idle)
            return
        logger.info("room @%s: no consumers for %g s; closing its socket", self.unique_id, self._policy.grace_s)
        self.closing = True
        if self._link is not None:
            await self._link.close()  # ends the read loop

    def _end_all(self, ending: Ending) -> None:
        self.closing = True
        for consumer in list(self.consumers):
            consumer.end(ending)

    # ---- the upstream ----

    async def _run(self) -> None:
        try:
            first = await self._open()
            if isinstance(first, OpenFailure):
                self._end_all(Ending(first.code, first.detail))
                self.opened.set_result(first)
                return
            self.opened.set_result(RoomInfo(self.unique_id, first.room_id))
            self._fan_out(first.initial, b"")
            link: UpstreamLink | Ending = first
            while not isinstance(link, Ending):
                opened_at, relayed = time.monotonic(), self._relayed
                outcome = await self._pump(link)
                await link.close()
                if self._relayed > relayed or time.monotonic() - opened_at >= STABLE_S:
                    self._reopens_left = self._policy.reconnect_attempts
                if outcome is _Outcome.STREAM_END:
                    self._end_all(Ending(CloseCode.STREAM_END))
                    return
                if outcome is _Outcome.IDLE or self.closing:
                    return
                link = await self._reconnect()
            self._end_all(link)
        except Exception:
            logger.exception("room @%s: relay session failed", self.unique_id)
            self._end_all(Ending(CloseCode.INTERNAL_ERROR))
            if not self.opened.done():
                self.opened.set_result(OpenFailure(CloseCode.INTERNAL_ERROR))
        finally:
            self.closing = True
            self._link = None
            self._on_closed(self)

    async def _open(self) -> UpstreamLink | OpenFailure:
        outcome = await self._upstream.open(self.unique_id)
        if not isinstance(outcome, OpenFailure):
            self.sockets_opened += 1
            self._on_socket()
            self._link = outcome
        return outcome

    async def _pump(self, link: UpstreamLink) -> _Outcome:
        async for batch in link.batches():
            if self._fan_out(batch.messages, batch.raw):
                return _Outcome.STREAM_END
        return _Outcome.IDLE if self.closing else _Outcome.DROPPED

    async def _reconnect(self) -> UpstreamLink | Ending:
        """A new socket after a dropped one, or the ending when TikTok will not give one."""
        detail = "socket closed"
        while self._reopens_left > 0:
            attempt = self._policy.reconnect_attempts - self._reopens_left
            self._reopens_left -= 1
            delay = min(self._policy.backoff_max_s, self._policy.backoff_s * 2**attempt)
            await asyncio.sleep(delay)
            if self.closing or not self.consumers:
                return Ending(CloseCode.NORMAL)
            logger.info("room @%s: socket dropped; reopening (attempt %d)", self.unique_id, attempt + 1)
            outcome = await self._open()
            if not isinstance(outcome, OpenFailure):
                return outcome
            if outcome.code is CloseCode.NOT_LIVE:  # it ended while we were away
                return Ending(CloseCode.STREAM_END, outcome.detail)
            detail = outcome.detail
        return Ending(CloseCode.TIKTOK_CLOSED_CONNECTION, detail)

    # ---- fan-out ----

    def _fresh(self, messages: Iterable[pb.BaseProtoMessage]) -> list[pb.BaseProtoMessage]:
        fresh = []
        for message in messages:
            if message.msg_id:
                if message.msg_id in self._seen_set:
                    continue
                if len(self._seen) == self._seen.maxlen:
                    self._seen_set.discard(self._seen[0])
                self._seen.append(message.msg_id)
                self._seen_set.add(message.msg_id)
            fresh.append(message)
        return fresh

    def _fan_out(self, messages: Iterable[pb.BaseProtoMessage], raw: bytes) -> bool:
        """Queue one frame's new messages for every consumer; True when the frame ends the stream."""
        fresh = self._fresh(messages)
        self._relayed += len(fresh)
        events = tuple(event for event in map(event_of, fresh) if event is not None)
        for event in events:
            if is_viewer_count(event):
                self.viewers = event
        if events or raw:
            delivery = Delivery(self._now_ms(), events, raw)
            if raw:  # relay-mode clients, the only ones replayed, take the frame's bytes alone
                self.recent.append(Delivery(delivery.timestamp_ms, (), raw))
            for consumer in list(self.consumers):
                if not consumer.offer(delivery):
                    logger.warning("room @%s: consumer %s dropped (too slow)", self.unique_id, consumer.label)
                    self.remove(consumer)
        return any(ends_stream(message) for message in fresh)

    async def stop(self) -> None:
        """Server shutdown: end every consumer and close the socket."""
        self._end_all(Ending(CloseCode.NORMAL, "server shutting down"))
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._link is not None:
            await self._link.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
