"""Two replicas on one Redis (two service stacks, two Backends, one prefix): one breaker state, one msToken."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest
import redis

from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from tests.upstream.fake_tiktok import FETCH_PATH, ROTATED_TOKEN, FakeTikTok
from ttsign.api.app import build_services, create_app
from ttsign.api.state import Services
from ttsign.config import Settings
from ttsign.service.connect import Connected
from ttsign.signing import default_profile
from ttsign.upstream.breaker import BreakerState
from ttsign.upstream.refusals import Refusal, RefusalCode

COOLDOWN_S = 1.0


@dataclass
class Replica:
    services: Services
    tiktok: FakeTikTok  # each replica's own view of TikTok, so we see which replica called it

    def state(self, room: str) -> BreakerState:
        breakers = self.services.connect.breakers
        assert breakers is not None
        return breakers.rooms.state(room)


@dataclass
class Pair:
    a: Replica
    b: Replica
    prefix: str


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    require_redis()
    prefix = new_prefix()
    settings = Settings(
        upstream="http://127.0.0.1:9",
        contact_email="ops@example.org",
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        breaker_failure_threshold=2,
        breaker_cooldown_s=COOLDOWN_S,
        upstream_max_attempts=1,
        **FETCH_PATH,  # type: ignore[arg-type]
    )
    replicas = []
    for _ in range(2):
        tiktok = FakeTikTok()
        replicas.append(Replica(build_services(settings, tiktok), tiktok))
    try:
        async with AsyncExitStack() as background:  # what the app's lifespan runs
            for replica in replicas:
                for run in replica.services.background:
                    await background.enter_async_context(run())
            yield Pair(replicas[0], replicas[1], prefix)
    finally:
        for replica in replicas:
            await replica.services.store.close()
            for close in replica.services.closers:
                await close()
        delete_prefix(prefix)


async def eventually(condition: Callable[[], bool], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {within_s} s"
        await asyncio.sleep(0.01)


def redis_keys_and_members(prefix: str) -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, decode_responses=True)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        members = client.zrange(f"{prefix}breakers-open", 0, -1)
        return " ".join([*keys, *members])
    finally:
        client.close()


async def test_a_breaker_opened_on_one_replica_is_open_on_the_other_and_closed_again(pair: Pair) -> None:
    a, b = pair.a, pair.b
    a.tiktok.mode = "5xx"
    for _ in range(2):
        failed = await a.services.connect.connect("7")
        assert isinstance(failed, Refusal) and failed.code is RefusalCode.UPSTREAM_5XX
    assert a.state("7") is BreakerState.OPEN
    await eventually(lambda: b.state("7") is BreakerState.OPEN, within_s=1.0)
    paused = await b.services.connect.connect("7")
    assert isinstance(paused, Refusal) and paused.code is RefusalCode.CIRCUIT_OPEN
    assert b.tiktok.fetches == []  # b never called TikTok for the room a found failing
    assert isinstance(await b.services.connect.connect("8"), Connected)  # other rooms are not paused
    shared = redis_keys_and_members(pair.prefix)
    assert "room:7" in shared and default_profile().user_agent not in shared and "Mozilla" not in shared

    a.tiktok.mode = "ok"
    await eventually(lambda: a.state("7") is BreakerState.HALF_OPEN, within_s=COOLDOWN_S + 1.0)
    assert isinstance(await a.services.connect.connect("7"), Connected)  # a's probe succeeds: closed
    await eventually(lambda: b.state("7") is BreakerState.CLOSED, within_s=1.0)  # not left half-open on b
    assert isinstance(await b.services.connect.connect("7"), Connected)


async def test_an_ms_token_rotated_on_one_replica_is_used_by_the_other(pair: Pair) -> None:
    a, b = pair.a, pair.b
    assert isinstance(await b.services.connect.connect("1"), Connected)  # b bootstraps the identity
    a.tiktok.rotate_ms_token = True
    assert isinstance(await a.services.connect.connect("1"), Connected)  # a adopts it; TikTok rotates the token
    assert a.tiktok.bootstraps == [] and len(b.tiktok.bootstraps) == 1

    def b_sent_the_rotated_token() -> bool:
        return ROTATED_TOKEN in b.tiktok.fetches[-1].url

    deadline = time.monotonic() + 4.0  # a writes within ~1 s; b re-checks the shelf every ~1 s
    while not b_sent_the_rotated_token():
        assert time.monotonic() < deadline, "b never used the msToken TikTok rotated on a"
        await asyncio.sleep(0.2)
        assert isinstance(await b.services.connect.connect("1"), Connected)
    assert len(b.tiktok.bootstraps) == 1 and a.tiktok.bootstraps == []  # the same identity throughout
    assert b.tiktok.verification_failures == []


async def test_the_app_lifespan_runs_the_sharing_and_stops_it() -> None:
    require_redis()
    prefix = new_prefix()
    settings = Settings(upstream="http://127.0.0.1:9", redis_url=REDIS_URL, redis_key_prefix=prefix, **FETCH_PATH)
    a, b = create_app(settings, transport=FakeTikTok()), create_app(settings, transport=FakeTikTok())
    try:
        async with a.router.lifespan_context(a), b.router.lifespan_context(b):
            on_a, on_b = a.state.services.connect.breakers, b.state.services.connect.breakers
            for _ in range(settings.breaker_failure_threshold):
                on_a.rooms.record_failure("5")
            await eventually(lambda: on_b.rooms.state("5") is BreakerState.OPEN, within_s=1.0)
        tasks = {t.get_coro().__qualname__ for t in asyncio.all_tasks()}  # type: ignore[union-attr]
        assert not any(name.startswith("BreakerSharing.") for name in tasks)  # nothing left running
    finally:
        delete_prefix(prefix)
