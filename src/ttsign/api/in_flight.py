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

from starlette.types import ASGIApp, Receive, Scope, Send

# Probes answer even when the queue is full; /events (server-sent events, the relay) streams for as long as
# its viewer watches, so it would hold a slot for hours: the relay's own admission limits it instead.
_UNQUEUED = ("/healthz", "/readyz", "/metrics", "/events")


class InFlightSlots:
    """The slots, and how long requests have waited for one without any request finishing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self.waiting = 0
        self._free = asyncio.Semaphore(size)
        self._last_finished = time.monotonic()
        self._queue_since = 0.0  # when the current run of waiting requests began

    def stalled_for(self, now: float) -> float:
        """Seconds requests have waited while no slot came free; 0 while nobody waits."""
        if self.waiting == 0:
            return 0.0
        return now - max(self._last_finished, self._queue_since)

    async def acquire(self) -> None:
        if self._free.locked():
            if self.waiting == 0:
                self._queue_since = time.monotonic()
            self.waiting += 1
            try:
                await self._free.acquire()
            finally:
                self.waiting -= 1
        else:
            await self._free.acquire()  # a free slot: returns without suspending
        self.busy += 1

    def release(self) -> None:
        self.busy -= 1
        self._last_finished = time.monotonic()
        self._free.release()


class InFlightLimit:
    def __init__(self, app: ASGIApp, slots: InFlightSlots) -> None:
        self._app = app
        self._slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNQUEUED:
            await self._app(scope, receive, send)
            return
        slots = self._slots
        await slots.acquire()
        try:
            await self._app(scope, receive, send)
        finally:
            slots.release()
