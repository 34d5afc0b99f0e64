"""Circuit breakers shared by every replica: one replica's open breaker pauses the room everywhere.

The local boards stay the truth for the fast check, so a connect never waits on the store. Each board
reports its transitions (opened until T, closed) into a bounded queue, synchronously and without I/O; a
background task publishes them, and another applies every other replica's transitions to the local boards.
Times travel as wall-clock instants (replicas share no monotonic clock) and are turned back into each
board's own clock on arrival, so the pause ends at the same moment everywhere, up to clock skew.

When the store is down, the boards carry on per process: one warning, the queue keeps the latest
transitions (the oldest are dropped when it is full; one whose pause is over is not sent late), and both
tasks retry by themselves. A replica that (re)connects first applies the breakers open right now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ttsign.background import running_in_background
from ttsign.store.base import BreakerEvent, BreakerExchange
from ttsign.upstream.breaker import BreakerBoard, Transition

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Outgoing:
    event: BreakerEvent
    happened_at: float  # wall clock
    cooldown_s: float


class BreakerSharing:
    """Publishes the tracked boards' transitions and applies other replicas' ones to them."""

    def __init__(
        self,
        exchange: BreakerExchange,
        *,
        queue_size: int = 1024,
        retry_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._exchange = exchange
        self._retry_s = retry_s
        self._clock = clock
        self._wall = wall_clock
        self._boards: dict[str, BreakerBoard] = {}
        self._outgoing: deque[_Outgoing] = deque(maxlen=queue_size)
        self._wake = asyncio.Event()
        self._down = False
        self.origin = secrets.token_hex(6)  # this replica, so it can ignore its own events coming back
        self.caught_up = asyncio.Event()  # set while listening, once the breakers open elsewhere are applied

    def track(self, *boards: BreakerBoard) -> None:
        """Apply other replicas' transitions of these boards' scopes (each board reports to `observe`)."""
        for board in boards:
            self._boards[board.scope] = board

    def observe(self, transition: Transition) -> None:
        """A board's `on_transition`: queue it for publishing. On the request path, so no I/O here."""
        reopens_at = None
        if transition.reopens_at is not None:
            reopens_at = self._wall() + (transition.reopens_at - self._clock())
        board = self._boards.get(transition.scope)
        cooldown_s = board.policy.cooldown_s if board is not None else 0.0
        event = BreakerEvent(transition.scope, transition.key, reopens_at, self.origin)
        self._outgoing.append(_Outgoing(event, self._wall(), cooldown_s))  # full: the oldest is dropped
        self._wake.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Publish and listen in the background for as long as the context lasts (the app's lifespan)."""
        try:
            async with running_in_background(self._publish_loop(), self._listen_loop()):
                yield
        finally:
            self.caught_up.clear()

    def apply(self, event: BreakerEvent) -> None:
        """Take another replica's transition into the local board of its scope."""
        board = self._boards.get(event.scope)
        if board is None or event.origin == self.origin:
            return
        if event.reopens_at is None:
            board.apply_close(event.key)
        else:
            board.apply_open(event.key, self._clock() + (event.reopens_at - self._wall()))

    # --- background ------------------------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        pending: _Outgoing | None = None
        while True:
            if pending is None:
                pending = await self._next()
            if not self._still_news(pending):
                pending = None
                continue
            try:
                await self._exchange.publish(pending.event)
            except Exception as exc:  # the store is down (or answered nonsense): retry this one later
                self._unavailable(exc)
                await asyncio.sleep(self._retry_s)
                continue
            pending = None

    async def _next(self) -> _Outgoing:
        while not self._outgoing:
            self._wake.clear()
            await self._wake.wait()
        return self._outgoing.popleft()

    def _still_news(self, outgoing: _Outgoing) -> bool:
        """An open that has run out, or a close older than a cooldown, would only mislead the others."""
        now = self._wall()
        if outgoing.event.reopens_at is not None:
            return outgoing.event.reopens_at > now
        return now - outgoing.happened_at < outgoing.cooldown_s

    async def _listen_loop(self) -> None:
        while True:
            try:
                async with contextlib.aclosing(self._exchange.listen()) as events:
                    async for event in events:
                        if event is None:
                            self.caught_up.set()
                            self._available()
                        else:
                            self.apply(event)
            except Exception as exc:
                self._unavailable(exc)
            self.caught_up.clear()
            await asyncio.sleep(self._retry_s)

    def _unavailable(self, exc: Exception) -> None:
        # One line per outage, not one per retry; the listener, connected all along, says when it is over.
        if not self._down:
            self._down = True
            logger.warning(
                "shared circuit breakers unavailable (%s: %s); breakers are per process until the store answers",
                type(exc).__name__,
                str(exc)[:160],
            )

    def _available(self) -> None:
        if self._down:
            self._down = False
            logger.info("shared circuit breakers available again")
