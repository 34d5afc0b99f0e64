"""Admission while the shared store (Redis) is down: fail closed (503) or open (admit, warn), per the policy."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import ConnectionPool, Redis

from tests.redis_db import free_port
from ttsign.service.admission import (
    AccessPolicy,
    Admission,
    Admitted,
    Credentials,
    Denied,
    FailureMode,
    StoreOutage,
)
from ttsign.service.jwt_auth import JwtAuthority
from ttsign.service.keys import KeyService
from ttsign.service.limits import RateLimiter
from ttsign.store.base import KeyRecord, KeyStore, Limits, StoreUnavailable
from ttsign.store.memory import MemoryKeyStore
from ttsign.store.redis import RedisKeyStore, redis_client
from ttsign.store.redis_limits import RedisConnectCounter, RedisRoomLedger, rate_limit_storage


class SwitchableKeyStore(MemoryKeyStore):
    """A memory store that can be made to fail like an unreachable Redis."""

    down = False

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        if self.down:
            raise StoreUnavailable("redis key lookup: ConnectionError")
        return await super().by_hash(key_hash)

    async def by_id(self, key_id: str) -> KeyRecord | None:
        if self.down:
            raise StoreUnavailable("redis key lookup: ConnectionError")
        return await super().by_id(key_id)


@dataclass
class DeadRedis:
    client: Redis
    pool: ConnectionPool
    limiter: RateLimiter


@pytest.fixture
async def dead() -> AsyncIterator[DeadRedis]:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    storage, pool = rate_limit_storage(url, timeout_s=0.2)
    client = redis_client(url, timeout_s=0.2)
    yield DeadRedis(client, pool, RateLimiter(storage))
    await pool.aclose()
    await client.aclose()


def gate(dead: DeadRedis, mode: FailureMode, store: KeyStore | None = None) -> Admission:
    policy = AccessPolicy(
        anonymous_limits=Limits(per_minute=5),
        per_ip_limits=Limits(per_minute=100),
        anonymous_rooms_per_hour=2,
        store_failure_mode=mode,
    )
    return Admission(
        KeyService(store or MemoryKeyStore()),
        dead.limiter,
        policy=policy,
        jwt=JwtAuthority(b"j" * 32),
        rooms=RedisRoomLedger(dead.client),
        connections=RedisConnectCounter(dead.client),
    )


async def test_fail_closed_answers_503_store_unavailable_fast(dead: DeadRedis) -> None:
    admission = gate(dead, "closed")
    _, key = await admission.keys.create("k", Limits(per_minute=5))
    started = time.monotonic()
    for credentials in (Credentials(), Credentials(api_key=key)):
        denied = await admission.admit(credentials, "10.0.0.1", room_id="7")
        assert isinstance(denied, Denied)
        assert (denied.status, denied.reason, denied.retry_after_s) == (503, "store_unavailable", 1)
    assert time.monotonic() - started < 2.0


async def test_fail_open_admits_and_warns_once(dead: DeadRedis, caplog: pytest.LogCaptureFixture) -> None:
    admission = gate(dead, "open")
    record, key = await admission.keys.create("k", Limits(per_minute=1, rooms_per_hour=1))
    authority = await admission.jwt_authority()
    assert authority is not None
    token, _ = authority.issue(record.key_id, lifetime_s=60, max_connections=1)
    assert await admission.keys.authenticate(key) is not None  # seen by this process before the outage
    # Far over every limit, yet admitted: nothing can be counted while Redis is away.
    for _ in range(3):
        assert isinstance(await admission.admit(Credentials(), "10.0.0.1", room_id="1"), Admitted)
        assert isinstance(await admission.admit(Credentials(api_key=key), "10.0.0.1", room_id="2"), Admitted)
        assert isinstance(await admission.admit(Credentials(jwt=token), "10.0.0.1", room_id="3"), Admitted)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "failing open" in warnings[0].getMessage()
    # The first failure marks the store down for a moment: the requests after it did not wait on Redis.
    assert admission.outage.down


async def test_after_a_failure_the_store_is_not_asked_again_for_a_moment(dead: DeadRedis) -> None:
    class Counting(RateLimiter):
        calls = 0

        async def hit(self, subject: str, windows: object, *, with_state: bool = False) -> object:  # type: ignore[override]
            Counting.calls += 1
            return await super().hit(subject, windows, with_state=with_state)  # type: ignore[arg-type]

    admission = gate(dead, "closed")
    admission.limiter = Counting(dead.limiter.storage)
    for _ in range(5):
        denied = await admission.admit(Credentials(), "10.0.0.1")
        assert isinstance(denied, Denied) and denied.status == 503
    assert Counting.calls == 1
    admission.outage._down_until = 0.0  # the hold has passed: the next request probes the store again
    assert isinstance(await admission.admit(Credentials(), "10.0.0.1"), Denied)
    assert Counting.calls == 2


async def test_keys_cannot_be_checked_without_the_store_unless_seen_before(dead: DeadRedis) -> None:
    store = SwitchableKeyStore()
    closed, opened = gate(dead, "closed", store), gate(dead, "open", store)
    _, seen = await closed.keys.create("seen")
    _, unseen = await closed.keys.create("unseen")
    assert await opened.keys.authenticate(seen) is not None  # this replica has read it once
    store.down = True
    opened.keys._cache = {d: (0.0, r) for d, (_, r) in opened.keys._cache.items()}  # long expired
    denied = await closed.admit(Credentials(api_key=seen), "10.0.0.1")
    assert isinstance(denied, Denied) and denied.status == 503
    assert isinstance(await opened.admit(Credentials(api_key=seen), "10.0.0.1"), Admitted)
    denied = await opened.admit(Credentials(api_key=unseen), "10.0.0.1")
    assert isinstance(denied, Denied) and (denied.status, denied.reason) == (503, "store_unavailable")


async def test_redis_key_store_outage_is_store_unavailable(dead: DeadRedis) -> None:
    store = RedisKeyStore(dead.client, owns_client=False)
    keys = KeyService(store)
    with pytest.raises(StoreUnavailable):
        await keys.authenticate("tts_abcd1234_" + "x" * 40)
    with pytest.raises(StoreUnavailable):
        await keys.create("x")
    with pytest.raises(StoreUnavailable):
        await store.secret("jwt", lambda: "s" * 40)


async def test_the_hold_runs_out_even_under_steady_traffic(dead: DeadRedis) -> None:
    now = [100.0]
    store = SwitchableKeyStore()
    admission = gate(dead, "open", store)
    admission.outage = StoreOutage(hold_s=1.0, clock=lambda: now[0])
    _, key = await admission.keys.create("new")
    store.down = True
    for _ in range(3):  # requests during the hold are answered without asking the store ...
        denied = await admission.admit(Credentials(api_key=key), "10.0.0.1")
        assert isinstance(denied, Denied) and denied.status == 503
        now[0] += 0.4
    store.down = False  # ... and do not extend it: 1.2 s after the one real failure, the store is asked again
    assert isinstance(await admission.admit(Credentials(api_key=key), "10.0.0.1"), Admitted)
