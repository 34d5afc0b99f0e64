"""One consumer of a room's events: a bounded queue between the room's fan-out and the consumer's socket.

The fan-out never waits on a consumer. When a consumer's queue is full it is dropped (ended with
SLOW_CONSUMER, its queued events discarded) and the other consumers carry on; an end the room decides
(stream end, TikTok gone) is queued after the events already waiting, so those are still delivered.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

from ttsign.relay.close_codes import CloseCode
from ttsign.relay.events import Event

_ids = itertools.count(1)


@dataclass(frozen=True)
class Delivery:
    """One upstream frame's worth of events, and the frame's bytes for consumers that want raw frames."""

    timestamp_ms: int
    events: tuple[Event, ...]
    raw: bytes = field(default=b"", repr=False)

    @cached_property
    def bundle(self) -> str:
        """The events as Euler's JSON bundle, encoded once however many consumers send it."""
        document = {"timestamp": self.timestamp_ms, "messages": list(self.events)}
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Ending:
    code: CloseCode
    detail: str = ""


class Consumer:
    """Queue side of one consumer. `offer` is called by the room; `next` by the consumer's endpoint."""

    def __init__(self, capacity: int, *, label: str = "") -> None:
        if capacity < 1:
            raise ValueError("a consumer queue holds at least one delivery")
        self.id = next(_ids)
        self.label = label  # who it is, safe to log (a key id, never the key)
        self._capacity = capacity
        self._items: deque[Delivery | Ending] = deque()
        self._ready = asyncio.Event()
        self.ending: Ending | None = None

    @property
    def queued(self) -> int:
        return len(self._items)

    def offer(self, delivery: Delivery) -> bool:
        """Queue a delivery; a consumer whose queue is full is ended instead. False once it has ended."""
        if self.ending is not None:
            return False
        if len(self._items) >= self._capacity:
            self._items.clear()  # a dropped consumer gets its close at once, not the backlog first
            self.end(Ending(CloseCode.SLOW_CONSUMER, f"more than {self._capacity} deliveries queued"))
            return False
        self._items.append(delivery)
        self._ready.set()
        return True

    def end(self, ending: Ending) -> None:
        """End after whatever is queued (the first end wins)."""
        if self.ending is not None:
            return
        self.ending = ending
        self._items.append(ending)
        self._ready.set()

    async def next(self) -> Delivery | Ending:
        """The next delivery, or the ending once everything before it was taken."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()
