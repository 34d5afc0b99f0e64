"""The connect use case with retries and circuit breakers, over a fake TikTok."""

from __future__ import annotations

import random

import pytest

from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.service.connect import Connected, ConnectService
from ttsign.service.resilience import ConnectBreakers
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy
from ttsign.upstream.identity import IdentityPool, bootstrap_identity
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.retry import RetryPolicy
from ttsign.upstream.rooms import RoomDirectory
from ttsign.upstream.transport import UpstreamRequest, UpstreamResponse
from ttsign.upstream.webcast import WebcastClient

BASE = "http://127.0.0.1:9"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.002)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class Flaky(FakeTikTok):
    """im/fetch answers in `fault_mode` for the first `faults` requests, then like TikTok."""

    def __init__(self, fault_mode: str, faults: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.fault_mode, self.faults = fault_mode, faults

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        if "/webcast/im/fetch/" in request.url:
            self.mode = self.fault_mode if len(self.fetches) < self.faults else "ok"
        return await super().send(request)


def service(
    tiktok: FakeTikTok, *, retry: RetryPolicy = FAST_RETRY, threshold: int = 3, clock: Clock | None = None
) -> ConnectService:
    rng = random.Random(11)
    clock = clock or Clock()

    async def factory(profile: object) -> object:
        return await bootstrap_identity(tiktok, BASE, profile, rng=rng)  # type: ignore[arg-type]

    policy = BreakerPolicy(failure_threshold=threshold, cooldown_s=30.0)
    breakers = ConnectBreakers(BreakerBoard("room", policy, clock=clock), BreakerBoard("identity", policy, clock=clock))
    return ConnectService(
        IdentityPool(factory),  # type: ignore[arg-type]
        WebcastClient(tiktok, webcast_base=BASE, rng=rng),
        rooms=RoomDirectory(tiktok, www_base=BASE),
        deadline_s=2.5,
        retry=retry,
        breakers=breakers,
        rng=rng,
    )


@pytest.mark.parametrize("mode", ["5xx", "reset", "timeout"])
async def test_a_transient_fault_that_clears_is_retried_to_success(mode: str) -> None:
    tiktok = Flaky(mode, faults=2)
    retried: list[tuple[str, str]] = []
    svc = service(tiktok)
    svc._on_retry = lambda step, refusal: retried.append((step, str(refusal.code)))
    result = await svc.connect("1")
    assert isinstance(result, Connected), result
    assert len(tiktok.fetches) == 3
    assert [step for step, _ in retried] == ["im_fetch", "im_fetch"]
    # every attempt was signed afresh (its own X-Bogus), not a replay
    assert len({r.url for r in tiktok.fetches}) == 3


async def test_a_persistent_5xx_ends_as_upstream_5xx_after_max_attempts() -> None:
    tiktok = FakeTikTok(mode="5xx")
    refusal = await service(tiktok).connect("1")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.UPSTREAM_5XX
    assert len(tiktok.fetches) == 3


@pytest.mark.parametrize("mode", ["empty", "forbidden", "captcha", "not_live", "not_found", "garbled"])
async def test_refusals_are_never_retried(mode: str) -> None:
    tiktok = FakeTikTok(mode=mode)
    refusal = await service(tiktok).connect("1")
    assert isinstance(refusal, Refusal)
    assert len(tiktok.fetches) == 1


async def test_a_failing_cookie_page_is_retried() -> None:
    tiktok = FakeTikTok(bootstrap_status=503)
    refusal = await service(tiktok).connect("1")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.UPSTREAM_5XX
    assert len(tiktok.bootstraps) == 3 and tiktok.fetches == []


async def test_room_breaker_opens_after_k_failures_refuses_fast_then_half_opens() -> None:
    clock = Clock()
    tiktok = FakeTikTok(mode="5xx")
    svc = service(tiktok, clock=clock, retry=RetryPolicy(max_attempts=1))
    for _ in range(3):
        refusal = await svc.connect("7")
        assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.UPSTREAM_5XX
    sent = len(tiktok.requests)
    paused = await svc.connect("7")
    assert isinstance(paused, Refusal) and paused.code is RefusalCode.CIRCUIT_OPEN
    assert paused.retry_after_s == pytest.approx(30.0)
    assert len(tiktok.requests) == sent  # refused without calling TikTok
    assert isinstance(await svc.connect("8"), Refusal)  # another room still calls TikTok
    assert len(tiktok.requests) == sent + 1
    tiktok.mode = "ok"
    clock.now += 31  # cooldown over: half-open, the probe goes through and closes the breaker
    assert isinstance(await svc.connect("7"), Connected)
    assert isinstance(await svc.connect("7"), Connected)


async def test_identity_breaker_opens_on_repeated_identity_refusals() -> None:
    clock = Clock()
    tiktok = FakeTikTok(mode="captcha")
    svc = service(tiktok, clock=clock)
    for room in ("1", "2", "3"):
        refusal = await svc.connect(room)
        assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.CAPTCHA
    bootstraps = len(tiktok.bootstraps)
    paused = await svc.connect("4")
    assert isinstance(paused, Refusal) and paused.code is RefusalCode.CIRCUIT_OPEN
    assert "identity" in paused.message
    assert len(tiktok.bootstraps) == bootstraps  # no new identity burnt during the cooldown
    assert svc.breakers is not None
    assert svc.breakers.identities.open_count() == 1 and svc.breakers.rooms.open_count() == 0


async def test_room_states_do_not_trip_breakers() -> None:
    tiktok = FakeTikTok(mode="not_live")
    svc = service(tiktok, threshold=2)
    for _ in range(5):
        refusal = await svc.connect("1")
        assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.ROOM_NOT_LIVE


async def test_retries_stay_inside_the_deadline() -> None:
    import time

    tiktok = FakeTikTok(delay_s=0.4, mode="5xx")
    started = time.monotonic()
    svc = service(tiktok, retry=RetryPolicy(max_attempts=20, base_delay_s=0.001, max_delay_s=0.002))
    svc._deadline_s = 1.0
    refusal = await svc.connect("1")
    assert isinstance(refusal, Refusal) and refusal.code in (RefusalCode.UPSTREAM_5XX, RefusalCode.TIMEOUT)
    assert time.monotonic() - started < 1.3
