"""Backpressure: at most N requests of one process do work at once; the rest wait their turn, unstarted.

Without it, a burst puts every request on the event loop together: each one's store and TikTok round trips
then wait behind everyone else's CPU work, a healthy Redis looks slow enough to count as down, and all of
them finish late. Queued requests hold no Redis connection and no upstream slot. Health and metrics routes
skip the queue so probes still see a busy process as alive; so do event streams (see `_UNQUEUED`).

A request takes its slot only once its body is in (request_limits.py sits outside this middleware), so
the work a slot covers is bounded by the upstream and store timeouts, never by a client's pace. Should the
slots stall all the same (requests waiting, none finishing), `/healthz` says so (`InFlightSlots.stalled_for`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

# Probes answer even when the queue is full; /events (server-sent events, the relay) streams for as long as
# its viewer watches, so it would hold a slot for hours: the relay's own admission limits it instead.
_UNQUEUED = ("/healthz", "/readyz", "/metrics", "/events")


class InFlightSlots:
    """The slots, and how long requests have waited for one without any request finishing.

    A count and a queue of waiters, not an `asyncio.Semaphore`: nearly every request finds a slot free, and
    `take` grants it with one comparison and no coroutine, where the semaphore's `locked()` and `acquire()`
    cost about 2.5% of a direct connect's instructions. A finished request hands its slot straight to the
    first waiter, so a newcomer cannot overtake the queue (FIFO, as the semaphore was)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._last_finished = time.monotonic()
        self._queue_since = 0.0  # when the current run of waiting requests began

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def stalled_for(self, now: float) -> float:
        """Seconds requests have waited while no slot came free; 0 while nobody waits."""
        if not self._waiters:
            return 0.0
        return now - max(self._last_finished, self._queue_since)

    def take(self) -> bool:
        """Take a free slot at once; False when the caller must `wait` for one (none free, or others queue)."""
        if self.busy < self.size and not self._waiters:
            self.busy += 1
            return True
        return False

    async def wait(self) -> None:
        """Queue until a finishing request hands over its slot (then held, as after `take`)."""
        if not self._waiters:
            self._queue_since = time.monotonic()
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(handed)
        try:
            await handed  # `release` takes it off the queue as it hands the slot over
        except BaseException:
            if handed.done() and not handed.cancelled():  # the slot came as the waiter was cancelled: pass it on
                self.release()
            elif handed in self._waiters:  # still queued (a `release` may have dropped it already)
                self._waiters.remove(handed)
            raise

    async def acquire(self) -> None:
        if not self.take():
            await self.wait()

    def release(self) -> None:
        self._last_finished = time.monotonic()
        while self._waiters:
            handed = self._waiters.popleft()
            if not handed.done():
                handed.set_result(None)  # the slot passes on: `busy` stays as it is
                return
        self.busy -= 1


class InFlightLimit:
    def __init__(self, app: ASGIApp, slots: InFlightSlots) -> None:
        self._app = app
        self._slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNQUEUED:
            await self._app(scope, receive, send)
            return
        slots = self._slots
        if not slots.take():  # `acquire`, unrolled: a free slot costs no coroutine at all
            await slots.wait()
        try:
            await self._app(scope, receive, send)
        finally:
            slots.release()
