"""The retry policy and loop, with an injected clock, sleep and randomness."""

from __future__ import annotations

import asyncio
import random

import pytest

from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.retry import NO_RETRY, RetryPolicy, call_with_retries

TRANSIENT = [RefusalCode.TIMEOUT, RefusalCode.TRANSPORT_ERROR, RefusalCode.UPSTREAM_5XX]
FINAL = [
    RefusalCode.EMPTY_200,
    RefusalCode.FORBIDDEN_403,
    RefusalCode.CAPTCHA,
    RefusalCode.DEVICE_BLOCKED,
    RefusalCode.ROOM_NOT_LIVE,
    RefusalCode.ROOM_NOT_FOUND,
    RefusalCode.MALFORMED_PAYLOAD,
    RefusalCode.CIRCUIT_OPEN,
]


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """Answers each attempt from a list (the last entry repeats) and advances fake time per attempt."""

    def __init__(self, time: FakeTime, answers: list[str | Refusal], cost_s: float = 0.0) -> None:
        self.time, self.answers, self.cost_s, self.calls = time, answers, cost_s, 0

    async def __call__(self) -> str | Refusal:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        self.time.now += self.cost_s
        return answer


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=0.5)
    rng = random.Random(1)
    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (10, 0.5)]:
        delays = [policy.backoff_s(retry, rng) for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.9  # the whole range is used: jitter, not a constant
        assert min(delays) < ceiling * 0.1


@pytest.mark.parametrize("code", TRANSIENT)
def test_transient_refusals_are_retried_until_max_attempts(code: RefusalCode) -> None:
    policy = RetryPolicy(max_attempts=3)
    rng = random.Random(2)
    assert policy.next_delay(Refusal(code), 1, 2.0, rng) is not None
    assert policy.next_delay(Refusal(code), 2, 2.0, rng) is not None
    assert policy.next_delay(Refusal(code), 3, 2.0, rng) is None


@pytest.mark.parametrize("code", FINAL)
def test_refusals_are_never_retried(code: RefusalCode) -> None:
    assert RetryPolicy(max_attempts=10).next_delay(Refusal(code), 1, 100.0, random.Random(3)) is None


def test_no_retry_when_the_budget_cannot_fit_another_attempt() -> None:
    policy = RetryPolicy(base_delay_s=0.2, max_delay_s=0.2, min_attempt_s=0.1)
    rng = random.Random(4)
    assert policy.next_delay(Refusal(RefusalCode.TIMEOUT), 1, 0.05, rng) is None
    assert policy.next_delay(Refusal(RefusalCode.TIMEOUT), 1, 0.31, rng) is not None


def test_attempt_limit_never_exceeds_the_budget() -> None:
    assert RetryPolicy(attempt_timeout_s=1.2).attempt_limit_s(0.7) == 0.7
    assert RetryPolicy(attempt_timeout_s=1.2).attempt_limit_s(2.5) == 1.2
    assert RetryPolicy().attempt_limit_s(2.5) == 2.5


async def test_a_fault_that_clears_is_retried_to_success() -> None:
    time = FakeTime()
    script = Script(time, [Refusal(RefusalCode.UPSTREAM_5XX), Refusal(RefusalCode.TRANSPORT_ERROR), "payload"])
    retried: list[tuple[RefusalCode, int]] = []
    outcome = await call_with_retries(
        script,
        RetryPolicy(max_attempts=3),
        deadline=time.now + 2.5,
        clock=time.clock,
        rng=random.Random(5),
        sleep=time.sleep,
        on_retry=lambda refusal, number, _delay: retried.append((refusal.code, number)),
    )
    assert outcome == "payload"
    assert script.calls == 3
    assert retried == [(RefusalCode.UPSTREAM_5XX, 1), (RefusalCode.TRANSPORT_ERROR, 2)]
    assert len(time.sleeps) == 2


async def test_a_persistent_fault_ends_with_its_own_refusal_inside_the_budget() -> None:
    time = FakeTime()
    started = time.now
    script = Script(time, [Refusal(RefusalCode.UPSTREAM_5XX, "HTTP 503")], cost_s=0.9)
    outcome = await call_with_retries(
        script, RetryPolicy(max_attempts=10), deadline=time.now + 2.5, clock=time.clock, rng=random.Random(6),
        sleep=time.sleep,
    )  # fmt: skip
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.UPSTREAM_5XX
    assert script.calls == 3  # 0.9 s each: a fourth cannot fit in 2.5 s
    assert time.now - started <= 2.5 + 0.9


async def test_a_refusal_is_returned_after_one_attempt() -> None:
    time = FakeTime()
    script = Script(time, [Refusal(RefusalCode.EMPTY_200)])
    outcome = await call_with_retries(
        script, RetryPolicy(), deadline=time.now + 2.5, clock=time.clock, rng=random.Random(7), sleep=time.sleep
    )
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.EMPTY_200
    assert script.calls == 1 and time.sleeps == []


async def test_no_retry_policy_makes_one_attempt() -> None:
    time = FakeTime()
    script = Script(time, [Refusal(RefusalCode.UPSTREAM_5XX)])
    await call_with_retries(script, NO_RETRY, deadline=time.now + 9, clock=time.clock, rng=random.Random(8))
    assert script.calls == 1


async def test_a_hanging_attempt_is_cut_at_its_limit_and_retried() -> None:
    calls = 0

    async def attempt() -> str | Refusal:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(10)  # hangs: only the attempt limit ends it
        return "payload"

    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await call_with_retries(
        attempt,
        RetryPolicy(attempt_timeout_s=0.1, base_delay_s=0.01, max_delay_s=0.01),
        deadline=loop.time() + 2.0,
        clock=loop.time,
        rng=random.Random(9),
    )
    assert outcome == "payload" and calls == 2
    assert loop.time() - started < 1.0


async def test_an_exhausted_budget_is_a_timeout() -> None:
    time = FakeTime()
    script = Script(time, ["payload"])
    outcome = await call_with_retries(
        script, RetryPolicy(), deadline=time.now - 1, clock=time.clock, rng=random.Random(10), sleep=time.sleep
    )
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.TIMEOUT
    assert script.calls == 0
