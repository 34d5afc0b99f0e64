"""Breakers shared between replicas over an in-process exchange: open and closed everywhere, never echoed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest

from ttsign.service.breaker_sharing import BreakerSharing
from ttsign.service.resilience import ConnectBreakers, identity_key
from ttsign.signing import default_profile
from ttsign.store.base import BreakerEvent, StoreUnavailable
from ttsign.store.memory import MemoryBreakerExchange
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy, BreakerState
from ttsign.upstream.refusals import Refusal, RefusalCode

TIMEOUT = Refusal(RefusalCode.TIMEOUT, "no answer")
CAPTCHA = Refusal(RefusalCode.CAPTCHA, "captcha page")


class Replica:
    """One replica's breakers and their sharing; `booted_s` shifts its monotonic clock (another host)."""

    def __init__(self, exchange: object, *, cooldown_s: float = 30.0, booted_s: float = 0.0, **options: float) -> None:
        def clock() -> float:
            return time.monotonic() + booted_s

        self.sharing = BreakerSharing(exchange, clock=clock, **options)  # type: ignore[arg-type]
        policy = BreakerPolicy(failure_threshold=2, cooldown_s=cooldown_s)
        self.breakers = ConnectBreakers(
            BreakerBoard("room", policy, clock=clock, on_transition=self.sharing.observe),
            BreakerBoard("identity", policy, clock=clock, on_transition=self.sharing.observe),
        )
        self.sharing.track(self.breakers.rooms, self.breakers.identities)

    def fail(self, room: str, outcome: Refusal = TIMEOUT, times: int = 2) -> None:
        for _ in range(times):
            self.breakers.record(room, default_profile(), outcome, bootstrap=False)


async def eventually(condition: Callable[[], bool], within_s: float = 1.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.01)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def running(stack: AsyncExitStack, *replicas: Replica) -> None:
    for replica in replicas:
        await stack.enter_async_context(replica.sharing.running())
    for replica in replicas:
        await asyncio.wait_for(replica.sharing.caught_up.wait(), 1.0)


async def test_a_room_opened_on_one_replica_is_paused_on_the_other_and_closed_again(stack: AsyncExitStack) -> None:
    exchange = MemoryBreakerExchange()
    a, b = Replica(exchange), Replica(exchange, booted_s=-500.0)  # monotonic clocks differ by host
    await running(stack, a, b)
    a.fail("7")
    assert a.breakers.rooms.state("7") is BreakerState.OPEN
    await eventually(lambda: b.breakers.rooms.state("7") is BreakerState.OPEN)
    refusal = b.breakers.check("7", default_profile())
    assert refusal is not None and refusal.code is RefusalCode.CIRCUIT_OPEN
    assert refusal.retry_after_s == pytest.approx(30.0, abs=1.0)  # the pause ends when a's does
    assert b.breakers.rooms.state("8") is BreakerState.CLOSED
    a.breakers.record("7", default_profile(), None, bootstrap=False)  # a call through it succeeded on a
    await eventually(lambda: b.breakers.rooms.state("7") is BreakerState.CLOSED)
    assert b.breakers.check("7", default_profile()) is None


async def test_an_identity_breaker_is_shared_under_its_digest(stack: AsyncExitStack) -> None:
    exchange = MemoryBreakerExchange()
    a, b = Replica(exchange), Replica(exchange)
    await running(stack, a, b)
    listener = exchange.listen()
    assert await anext(listener) is None
    a.fail("7", CAPTCHA)
    await eventually(lambda: b.breakers.identities.state(identity_key(default_profile())) is BreakerState.OPEN)
    heard = await asyncio.wait_for(anext(listener), 1.0)
    await listener.aclose()
    assert heard is not None and heard.scope == "identity" and heard.key == identity_key(default_profile())
    assert default_profile().user_agent not in repr(heard)  # only a digest of the slot travels
    refusal = b.breakers.check("8", default_profile())
    assert refusal is not None and "identity" in refusal.message


async def test_a_replica_ignores_its_own_events_coming_back(stack: AsyncExitStack) -> None:
    exchange = MemoryBreakerExchange()
    a = Replica(exchange)
    await running(stack, a)
    a.fail("7")
    # An old close of a's own arriving late (after a reopened it) must not close it; another replica's does.
    await exchange.publish(BreakerEvent("room", "7", None, a.sharing.origin))
    # Events arrive in order: once another replica's open of room 8, published after, has been applied,
    # a's own close of room 7 has been seen (and ignored). No fixed sleep.
    await exchange.publish(BreakerEvent("room", "8", time.time() + 60, "another-replica"))
    await eventually(lambda: a.breakers.rooms.state("8") is BreakerState.OPEN)
    assert a.breakers.rooms.state("7") is BreakerState.OPEN
    await exchange.publish(BreakerEvent("room", "7", None, "another-replica"))
    await eventually(lambda: a.breakers.rooms.state("7") is BreakerState.CLOSED)


async def test_a_replica_starting_late_learns_the_breakers_open_now(stack: AsyncExitStack) -> None:
    exchange = MemoryBreakerExchange()
    a = Replica(exchange)
    await running(stack, a)
    a.fail("7")
    a.fail("9")
    a.breakers.record("9", default_profile(), None, bootstrap=False)
    await eventually(lambda: exchange._open.get(("room", "9"), 0) == 0 and ("room", "7") in exchange._open)
    b = Replica(exchange)
    await running(stack, b)  # caught up: the open list was applied before this returns
    assert b.breakers.rooms.state("7") is BreakerState.OPEN
    assert b.breakers.rooms.state("9") is BreakerState.CLOSED


async def test_the_queue_is_bounded_keeping_the_newest_and_stale_opens_are_not_published() -> None:
    exchange = MemoryBreakerExchange()
    a = Replica(exchange, cooldown_s=0.3, queue_size=2)
    for room in ("1", "2", "3", "4"):
        a.fail(room)  # not running yet: queued, synchronously, no I/O
    assert len(a.sharing._outgoing) == 2
    await asyncio.sleep(0.4)  # their pauses are over before anyone could publish them
    a.breakers.rooms.apply_open("5", time.monotonic() + 60)  # applied opens are not re-published
    listener = exchange.listen()
    assert await anext(listener) is None
    async with a.sharing.running():
        a.fail("6")
        event = await asyncio.wait_for(anext(listener), 1.0)
    await listener.aclose()
    assert event is not None and event.key == "6"  # 3 and 4 had run out, 1 and 2 were dropped, 5 was not ours


class Flaky:
    """An exchange that is down for its first few calls of each kind, then a memory one."""

    def __init__(self, publish_failures: int, listen_failures: int) -> None:
        self.inner = MemoryBreakerExchange()
        self.publish_failures = publish_failures
        self.listen_failures = listen_failures

    async def publish(self, event: BreakerEvent) -> None:
        if self.publish_failures:
            self.publish_failures -= 1
            raise StoreUnavailable("redis breaker publish: ConnectionError: refused")
        await self.inner.publish(event)

    async def listen(self) -> AsyncGenerator[BreakerEvent | None, None]:
        if self.listen_failures:
            self.listen_failures -= 1
            raise StoreUnavailable("redis breaker subscribe: ConnectionError: refused")
        async for event in self.inner.listen():
            yield event


async def test_an_outage_is_logged_once_breakers_work_locally_and_sharing_resumes_by_itself(
    stack: AsyncExitStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ttsign.service.breaker_sharing")
    flaky = Flaky(publish_failures=2, listen_failures=3)
    a, b = Replica(flaky, retry_s=0.05), Replica(flaky.inner, retry_s=0.05)
    await stack.enter_async_context(a.sharing.running())
    await running(stack, b)
    a.fail("7")
    assert a.breakers.check("7", default_profile()) is not None  # locally, at once, store or no store
    await eventually(lambda: b.breakers.rooms.state("7") is BreakerState.OPEN)  # the open was retried
    await asyncio.wait_for(a.sharing.caught_up.wait(), 1.0)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "per process" in warnings[0].getMessage()
    assert any("available again" in r.getMessage() for r in caplog.records)
