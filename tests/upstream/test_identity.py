"""Identity bootstrap and the identity pool."""

from __future__ import annotations

import asyncio
import random

import pytest

from ttsign.signing import default_profile, is_valid_ms_token
from ttsign.upstream.identity import Identity, IdentityPool, bootstrap_identity, new_device_id
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.transport import UpstreamRequest, UpstreamResponse

from .fake_tiktok import FakeTikTok

WWW = "http://127.0.0.1:9"


def test_device_ids_are_19_digits_and_vary() -> None:
    rng = random.Random(1)
    ids = {new_device_id(rng) for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 19 and i.isdigit() for i in ids)


async def test_bootstrap_collects_ttwid_and_ms_token_as_the_profiles_browser() -> None:
    tiktok = FakeTikTok()
    profile = default_profile()
    identity = await bootstrap_identity(tiktok, WWW, profile, rng=random.Random(2))
    assert isinstance(identity, Identity)
    assert identity.ttwid.startswith("1%7Cttwid-")
    assert identity.ms_token == "M" * 148
    assert identity.profile is profile
    (request,) = tiktok.requests
    assert request.url == f"{WWW}/"
    assert request.headers["User-Agent"] == profile.user_agent
    assert request.impersonate == profile.impersonate
    assert "Cookie" not in request.headers


async def test_bootstrap_mints_an_ms_token_when_tiktok_gives_none() -> None:
    class NoToken(FakeTikTok):
        async def send(self, request: UpstreamRequest) -> UpstreamResponse:
            return UpstreamResponse(200, (("set-cookie", "ttwid=abc; Path=/"),), b"")

    identity = await bootstrap_identity(NoToken(), WWW, default_profile(), rng=random.Random(3))
    assert isinstance(identity, Identity)
    assert identity.ms_token and is_valid_ms_token(identity.ms_token)


@pytest.mark.parametrize(("status", "code"), [(403, RefusalCode.FORBIDDEN_403), (502, RefusalCode.UPSTREAM_5XX)])
async def test_bootstrap_refusals(status: int, code: RefusalCode) -> None:
    outcome = await bootstrap_identity(FakeTikTok(bootstrap_status=status), WWW, default_profile(), rng=random.Random())
    assert isinstance(outcome, Refusal) and outcome.code is code


async def test_bootstrap_timeout_is_a_timeout_refusal() -> None:
    class Slow(FakeTikTok):
        async def send(self, request: UpstreamRequest) -> UpstreamResponse:
            from ttsign.upstream.transport import TransportTimeout

            raise TransportTimeout("slow")

    outcome = await bootstrap_identity(Slow(), WWW, default_profile(), rng=random.Random())
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.TIMEOUT


def make_pool(tiktok: FakeTikTok, **kwargs: object) -> IdentityPool:
    async def factory(profile: object) -> Identity | Refusal:
        return await bootstrap_identity(tiktok, WWW, profile, rng=random.Random())  # type: ignore[arg-type]

    return IdentityPool(factory, **kwargs)  # type: ignore[arg-type]


async def test_pool_reuses_one_identity_per_profile() -> None:
    tiktok = FakeTikTok()
    pool = make_pool(tiktok)
    first = await pool.acquire(default_profile())
    second = await pool.acquire(default_profile())
    assert isinstance(first, Identity) and first is second
    assert first.uses == 2
    other = await pool.acquire(default_profile("firefox133-windows"))
    assert isinstance(other, Identity) and other is not first
    assert len(tiktok.bootstraps) == 2


async def test_ready_gives_the_warm_identity_without_io_and_nothing_that_needs_work() -> None:
    tiktok = FakeTikTok()
    pool = make_pool(tiktok)
    assert pool.ready(default_profile()) is None  # cold: only acquire bootstraps
    assert tiktok.bootstraps == []
    first = await pool.acquire(default_profile())
    assert isinstance(first, Identity)
    assert pool.ready(default_profile()) is first and first.uses == 2
    assert pool.ready(default_profile("firefox133-windows")) is None
    pool.retire(first, "test")
    assert pool.ready(default_profile()) is None  # retired: acquire must replace it
    assert len(tiktok.bootstraps) == 1


async def test_concurrent_acquires_share_one_bootstrap() -> None:
    tiktok = FakeTikTok(delay_s=0.02)
    pool = make_pool(tiktok)
    identities = await asyncio.gather(*(pool.acquire(default_profile()) for _ in range(20)))
    assert len({id(i) for i in identities}) == 1
    assert len(tiktok.bootstraps) == 1


async def test_retired_identity_is_replaced() -> None:
    tiktok = FakeTikTok()
    pool = make_pool(tiktok)
    first = await pool.acquire(default_profile())
    assert isinstance(first, Identity)
    pool.retire(first, "test")
    second = await pool.acquire(default_profile())
    assert isinstance(second, Identity) and second is not first and first.retired
    assert second.ttwid != first.ttwid


async def test_aged_identity_is_replaced() -> None:
    now = [0.0]
    tiktok = FakeTikTok()

    async def factory(profile: object) -> Identity | Refusal:
        return await bootstrap_identity(tiktok, WWW, profile, rng=random.Random(), clock=lambda: now[0])  # type: ignore[arg-type]

    pool = IdentityPool(factory, max_age_s=60, clock=lambda: now[0])
    first = await pool.acquire(default_profile())
    now[0] = 59.0
    assert await pool.acquire(default_profile()) is first
    now[0] = 61.0
    assert await pool.acquire(default_profile()) is not first


async def test_pool_is_bounded_least_recently_used_first() -> None:
    pool = make_pool(FakeTikTok(), size=2)
    a = await pool.acquire(default_profile("chrome131-windows"))
    await pool.acquire(default_profile("chrome131-mac"))
    assert await pool.acquire(default_profile("chrome131-windows")) is a  # touch a
    await pool.acquire(default_profile("firefox133-windows"))  # evicts chrome131-mac
    assert len(pool) == 2
    assert await pool.acquire(default_profile("chrome131-windows")) is a


async def test_refused_bootstrap_is_reported_to_every_waiter_and_not_cached() -> None:
    tiktok = FakeTikTok(bootstrap_status=403, delay_s=0.01)
    pool = make_pool(tiktok)
    outcomes = await asyncio.gather(*(pool.acquire(default_profile()) for _ in range(5)))
    assert all(isinstance(o, Refusal) and o.code is RefusalCode.FORBIDDEN_403 for o in outcomes)
    assert len(tiktok.bootstraps) == 1
    tiktok.bootstrap_status = 200
    assert isinstance(await pool.acquire(default_profile()), Identity)


async def test_a_cancelled_waiter_does_not_cancel_the_shared_bootstrap() -> None:
    tiktok = FakeTikTok(delay_s=0.05)
    pool = make_pool(tiktok)
    impatient = asyncio.create_task(pool.acquire(default_profile()))
    patient = asyncio.create_task(pool.acquire(default_profile()))
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert isinstance(await patient, Identity)
