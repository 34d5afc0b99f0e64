"""Backpressure: at most N requests of one process do work at once; the rest wait their turn, unstarted.

Without it, a burst puts every request on the event loop together: each one's store and TikTok round trips
then wait behind everyone else's CPU work, a healthy Redis looks slow enough to count as down, and all of
them finish late. Queued requests hold no Redis connection and no upstream slot. Health and metrics routes
skip the queue so probes still see a busy process as alive.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

_UNQUEUED = ("/healthz", "/readyz", "/metrics")


class InFlightLimit:
    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self._app = app
        self._slots = asyncio.Semaphore(max_in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNQUEUED:
            await self._app(scope, receive, send)
            return
        async with self._slots:
            await self._app(scope, receive, send)
