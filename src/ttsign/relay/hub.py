"""The relay: one room session per streamer, and the caps on how many sockets a caller holds at once.

`join` puts a consumer on the streamer's session (starting one when none is running) and waits for the
session's socket to open; `leave` takes it off. Concurrent-socket caps are counted here, per subject (a
key, a token, an address), because only this process knows which consumer sockets are still open.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ttsign.relay.client_mode import room_key
from ttsign.relay.close_codes import CloseCode
from ttsign.relay.consumer import Consumer, Ending
from ttsign.relay.events import Event
from ttsign.relay.heap import HeapPacing, Unpaced
from ttsign.relay.session import RoomInfo, RoomSession, SessionPolicy
from ttsign.relay.upstream import OpenFailure, Upstream

logger = logging.getLogger(__name__)

Cap = tuple[str, int]  # (subject, most sockets it may hold at once)


class RelayObserver(Protocol):
    """Where the relay reports what monitoring wants (api/ maps it to Prometheus)."""

    def counts(self, rooms: int, consumers: int) -> None: ...

    def socket_opened(self) -> None: ...

    def consumer_closed(self, code: int) -> None: ...


class _Unobserved:
    def counts(self, rooms: int, consumers: int) -> None:
        return None

    def socket_opened(self) -> None:
        return None

    def consumer_closed(self, code: int) -> None:
        return None


@dataclass(frozen=True)
class Joined:
    consumer: Consumer
    room: RoomInfo
    replay: tuple[Event, ...]  # state a late joiner should see first (the viewer count)
    caps: tuple[Cap, ...] = field(default=(), repr=False)


class Relay:
    def __init__(
        self,
        upstream: Upstream,
        policy: SessionPolicy | None = None,
        *,
        observer: RelayObserver | None = None,
        heap: HeapPacing | None = None,
    ) -> None:
        self._upstream = upstream
        self.policy = policy or SessionPolicy()
        self.observer = observer or _Unobserved()
        self.heap = heap or Unpaced()
        self.rooms: dict[str, RoomSession] = {}
        self._held: Counter[str] = Counter()
        # A streamer's session also serves its room by id (room:<id>, relay mode), so the two share a socket.
        self._aliases: dict[str, RoomSession] = {}

    def _take(self, caps: Sequence[Cap]) -> bool:
        if any(self._held[subject] >= limit for subject, limit in caps):
            return False
        for subject, _ in caps:
            self._held[subject] += 1
        return True

    def _give_back(self, caps: Sequence[Cap]) -> None:
        for subject, _ in caps:
            self._held[subject] -= 1
            if self._held[subject] <= 0:
                del self._held[subject]

    def _session(self, unique_id: str) -> RoomSession:
        session = self.rooms.get(unique_id) or self._aliases.get(unique_id)
        if session is None or session.closing:
            session = RoomSession(
                unique_id,
                self._upstream,
                self.policy,
                on_closed=self._closed,
                on_socket=self.observer.socket_opened,
            )
            self.rooms[unique_id] = session
            session.start()
        return session

    def _closed(self, session: RoomSession) -> None:
        if self.rooms.get(session.unique_id) is session:
            del self.rooms[session.unique_id]
        for key in [key for key, aliased in self._aliases.items() if aliased is session]:
            del self._aliases[key]
        self._report()

    def _report(self) -> None:
        self.observer.counts(len(self.rooms), self.consumer_count)

    async def join(
        self, unique_id: str, *, label: str = "", caps: Sequence[Cap] = (), since_ms: int | None = None
    ) -> Joined | Ending:
        """A consumer on the streamer's room, or the ending to close the caller's socket with.

        `since_ms`: the consumer starts with the room's recent frames from that time on, as raw frames only (a
        relay-mode client whose socket comes a moment after its connect misses nothing in between)."""
        if not self._take(caps):
            return Ending(CloseCode.TOO_MANY_CONNECTIONS)
        session = self._session(unique_id)
        late = session.opened.done()  # an early consumer gets the first fetch's messages as they fan out
        consumer = Consumer(self.policy.queue_size, label=label)
        if since_ms is not None:
            for delivery in session.recent:
                if delivery.timestamp_ms >= since_ms:
                    consumer.offer(delivery)
        session.add(consumer)
        try:
            opened = await asyncio.shield(session.opened)
        except BaseException:
            session.remove(consumer)
            self._give_back(caps)
            raise
        if isinstance(opened, OpenFailure):
            session.remove(consumer)
            self._give_back(caps)
            return Ending(opened.code, opened.detail)
        if not session.closing and room_key(opened.room_id) != session.unique_id:
            self._aliases.setdefault(room_key(opened.room_id), session)
        replay = (session.viewers,) if late and session.viewers is not None else ()
        self._report()
        self.heap.joined()
        return Joined(consumer, opened, replay, tuple(caps))

    async def warm(self, unique_id: str) -> RoomInfo | Ending:
        """Open the room's socket now (it stays open for the grace period), or say why it cannot be."""
        joined = await self.join(unique_id)
        if isinstance(joined, Ending):
            return joined
        self.leave(joined)
        return joined.room

    def leave(self, joined: Joined) -> None:
        session = self.rooms.get(joined.room.unique_id)
        if session is not None:
            session.remove(joined.consumer)
        self._give_back(joined.caps)
        if joined.consumer.ending is not None:
            self.observer.consumer_closed(int(joined.consumer.ending.code))
        self._report()
        self.heap.left(self.consumer_count)

    @property
    def consumer_count(self) -> int:
        return sum(len(session.consumers) for session in self.rooms.values())

    async def close(self) -> None:
        for session in list(self.rooms.values()):
            await session.stop()
        self.rooms.clear()
        await self._upstream.close()
