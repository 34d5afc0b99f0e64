"""Retrying transient upstream faults: capped exponential backoff with full jitter, inside one time budget.

Only refusals marked `transient` (timeouts, connection failures, 5xx) are retried. A refusal proper (empty
200, 403, captcha, DEVICE_BLOCKED, a room that is not live) is reported at once: retrying it looks like a
network problem while being a signing one, and hammers TikTok with requests it already refused.

The policy is pure (clock and randomness are passed in); `call_with_retries` is the small async loop around it.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ttsign.upstream.refusals import Refusal, RefusalCode

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry. `attempt_timeout_s` None: an attempt may use the whole budget."""

    max_attempts: int = 3
    base_delay_s: float = 0.05
    max_delay_s: float = 0.4
    attempt_timeout_s: float | None = None
    # A retry is only worth starting when at least this much of the budget is left after its backoff.
    min_attempt_s: float = 0.1

    def backoff_s(self, retry: int, rng: random.Random) -> float:
        """Delay before retry number `retry` (1-based): uniform in [0, min(cap, base * 2^(retry-1))]."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (retry - 1)))
        return rng.uniform(0.0, ceiling)

    def next_delay(self, refusal: Refusal, attempt: int, remaining_s: float, rng: random.Random) -> float | None:
        """After `attempt` (1-based) ended in `refusal`: the delay before trying again, or None to give up."""
        if not refusal.transient or attempt >= self.max_attempts:
            return None
        delay = self.backoff_s(attempt, rng)
        if remaining_s - delay < self.min_attempt_s:
            return None
        return delay

    def attempt_limit_s(self, remaining_s: float) -> float:
        """How long the next attempt may take: its own limit, never past the budget."""
        own = self.attempt_timeout_s if self.attempt_timeout_s is not None else math.inf
        return min(own, remaining_s)


NO_RETRY = RetryPolicy(max_attempts=1)

OnRetry = Callable[[Refusal, int, float], None]  # (refusal, attempt that failed, delay before the next)


async def call_with_retries(
    attempt: Callable[[], Awaitable[T | Refusal]],
    policy: RetryPolicy,
    *,
    deadline: float,
    clock: Callable[[], float],
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: OnRetry | None = None,
) -> T | Refusal:
    """Run `attempt` until it succeeds, refuses for good, or the budget (absolute `deadline` on `clock`) ends."""
    number = 0
    while True:
        number += 1
        outcome = await _bounded(attempt, policy.attempt_limit_s(deadline - clock()))
        if not isinstance(outcome, Refusal):
            return outcome
        delay = policy.next_delay(outcome, number, deadline - clock(), rng)
        if delay is None:
            return outcome
        if on_retry is not None:
            on_retry(outcome, number, delay)
        await sleep(delay)


async def _bounded(attempt: Callable[[], Awaitable[T | Refusal]], limit_s: float) -> T | Refusal:
    if limit_s <= 0:
        return Refusal(RefusalCode.TIMEOUT, "no time left in the budget")
    if math.isinf(limit_s):
        return await attempt()
    try:
        async with asyncio.timeout(limit_s):
            return await attempt()
    except TimeoutError:
        # Only this attempt's own limit lands here: an outer deadline cancels through it instead.
        return Refusal(RefusalCode.TIMEOUT, f"attempt took over {limit_s:.2g} s")
