"""Fixed-window limits: exact counts, the refusing window named, retry times that make sense."""

from __future__ import annotations

import asyncio
import time

from ttsign.service.limits import RateLimiter


async def test_exactly_n_requests_pass_per_window() -> None:
    limiter = RateLimiter()
    results = [await limiter.hit("key:a", [("minute", 3), ("hour", 10)]) for _ in range(5)]
    assert [d.allowed for d in results] == [True, True, True, False, False]
    refused = results[3].refused_by
    assert refused is not None and refused.label == "minute" and refused.remaining == 0
    assert 0 < refused.reset_at - time.time() <= 60
    assert 1 <= results[3].retry_after_s(time.time()) <= 60


async def test_subjects_are_counted_apart_and_the_longer_window_can_refuse() -> None:
    limiter = RateLimiter()
    for _ in range(2):
        assert (await limiter.hit("ip:1", [("minute", 100), ("day", 2)])).allowed
    day = await limiter.hit("ip:1", [("minute", 100), ("day", 2)])
    assert not day.allowed and day.refused_by is not None and day.refused_by.label == "day"
    assert (await limiter.hit("ip:2", [("minute", 100), ("day", 2)])).allowed


async def test_concurrent_hits_never_exceed_the_limit() -> None:
    limiter = RateLimiter()
    decisions = await asyncio.gather(*(limiter.hit("key:c", [("minute", 25)]) for _ in range(200)))
    assert sum(d.allowed for d in decisions) == 25


async def test_peek_does_not_consume_and_reports_the_tightest_window() -> None:
    limiter = RateLimiter()
    ok = await limiter.hit("key:p", [("minute", 5), ("hour", 3)], with_state=True)
    assert ok.tightest is not None and ok.tightest.label == "hour" and ok.tightest.remaining == 2
    states = await limiter.peek("key:p", [("minute", 5), ("hour", 3)])
    assert [(s.label, s.remaining) for s in states] == [("minute", 4), ("hour", 2)]
    assert [(s.label, s.remaining) for s in await limiter.peek("key:p", [("minute", 5)])] == [("minute", 4)]
