"""Identities shared between replicas through Redis: one bootstrap for all, retired for all, outages survived."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from tests.redis_db import REDIS_URL, delete_prefix, free_port, new_prefix, require_redis
from ttsign.signing import BrowserProfile, default_profile
from ttsign.store.base import IdentityRecord, slot_digest
from ttsign.store.redis import redis_client
from ttsign.store.redis_identities import RedisIdentityShelf
from ttsign.upstream.identity import Identity, IdentityPool, bootstrap_identity
from ttsign.upstream.refusals import Refusal

from .fake_tiktok import FakeTikTok

WWW = "http://127.0.0.1:9"


@dataclass
class Cluster:
    tiktok: FakeTikTok
    prefix: str
    clients: list[Redis]

    def pool(self, *, recheck_s: float = 1.0, max_age_s: float = 1800.0, url: str = REDIS_URL) -> IdentityPool:
        """One replica: its own Redis client, the same database and prefix as the others."""
        client = redis_client(url, timeout_s=0.3)
        self.clients.append(client)
        tiktok = self.tiktok

        async def factory(profile: BrowserProfile) -> Identity | Refusal:
            return await bootstrap_identity(tiktok, WWW, profile, rng=random.Random())

        shelf = RedisIdentityShelf(client, prefix=self.prefix)
        return IdentityPool(factory, shelf=shelf, recheck_s=recheck_s, max_age_s=max_age_s, lock_ttl_s=2.0)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    require_redis()
    group = Cluster(FakeTikTok(delay_s=0.05), new_prefix(), [])
    yield group
    for client in group.clients:
        await client.aclose()
    delete_prefix(group.prefix)


async def test_an_identity_bootstrapped_by_one_replica_is_reused_by_another(cluster: Cluster) -> None:
    a, b = cluster.pool(), cluster.pool()
    first = await a.acquire(default_profile())
    second = await b.acquire(default_profile())
    assert isinstance(first, Identity) and isinstance(second, Identity)
    assert len(cluster.tiktok.bootstraps) == 1
    assert (second.key, second.device_id, second.ttwid, second.ms_token) == (
        first.key,
        first.device_id,
        first.ttwid,
        first.ms_token,
    )
    assert second.profile is default_profile() or second.profile == default_profile()
    assert len(b) == 1
    # A different browser profile is a different identity.
    other = await b.acquire(default_profile("firefox133-windows"))
    assert isinstance(other, Identity) and other.key != first.key and len(cluster.tiktok.bootstraps) == 2


async def test_concurrent_replicas_bootstrap_a_profile_once(cluster: Cluster) -> None:
    a, b, c = cluster.pool(), cluster.pool(), cluster.pool()
    results = await asyncio.gather(*(pool.acquire(default_profile()) for pool in (a, b, c) for _ in range(10)))
    assert all(isinstance(r, Identity) for r in results)
    assert len({r.key for r in results if isinstance(r, Identity)}) == 1
    assert len(cluster.tiktok.bootstraps) == 1


async def test_a_retired_identity_is_retired_for_every_replica(cluster: Cluster) -> None:
    a, b = cluster.pool(recheck_s=0.0), cluster.pool(recheck_s=0.0)
    first = await a.acquire(default_profile())
    seen_by_b = await b.acquire(default_profile())
    assert isinstance(first, Identity) and isinstance(seen_by_b, Identity) and seen_by_b.key == first.key
    a.retire(first, "forbidden_403")
    await a.settle()
    replacement = await b.acquire(default_profile())
    assert isinstance(replacement, Identity) and replacement.key != first.key
    assert seen_by_b.retired  # b's own copy was dropped, not just bypassed
    again = await a.acquire(default_profile())
    assert isinstance(again, Identity) and again.key == replacement.key
    assert len(cluster.tiktok.bootstraps) == 2


async def test_a_warm_identity_is_rechecked_only_after_recheck_s(cluster: Cluster) -> None:
    a, b = cluster.pool(recheck_s=60.0), cluster.pool(recheck_s=60.0)
    first = await a.acquire(default_profile())
    assert isinstance(first, Identity)
    assert await b.acquire(default_profile()) is not None
    await b.acquire(default_profile())
    a.retire(first, "test")
    await a.settle()
    # b confirmed its copy moments ago: it keeps it until the recheck interval passes (bounded staleness).
    cached = await b.acquire(default_profile())
    assert isinstance(cached, Identity) and cached.key == first.key


async def test_the_record_expires_with_the_identity_and_holds_no_log_secrets(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    a = cluster.pool(max_age_s=120.0)
    identity = await a.acquire(default_profile())
    assert isinstance(identity, Identity)
    client = cluster.clients[0]
    keys = [k async for k in client.scan_iter(match=f"{cluster.prefix}identity:*")]
    assert len(keys) == 1
    assert 0 < await client.pttl(keys[0]) <= 120_000
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert identity.key in logged
    assert identity.ttwid not in logged and identity.ms_token not in logged


async def test_a_record_lost_from_redis_is_published_again_not_bootstrapped(cluster: Cluster) -> None:
    a, b = cluster.pool(recheck_s=0.0), cluster.pool(recheck_s=0.0)
    first = await a.acquire(default_profile())
    assert isinstance(first, Identity)
    delete_prefix(cluster.prefix)  # Redis restarted empty (shutdown nosave) or the key was evicted
    assert await a.acquire(default_profile()) is first
    adopted = await b.acquire(default_profile())
    assert isinstance(adopted, Identity) and adopted.key == first.key
    assert len(cluster.tiktok.bootstraps) == 1


async def test_an_unreachable_shelf_leaves_the_pool_working_in_process(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    pool = cluster.pool(recheck_s=0.0, url=f"redis://127.0.0.1:{free_port()}/0")
    first = await pool.acquire(default_profile())
    again = await pool.acquire(default_profile())
    assert isinstance(first, Identity) and again is first
    assert len(cluster.tiktok.bootstraps) == 1
    pool.retire(first, "test")
    await pool.settle()  # the failed shared retirement is logged, not raised
    assert isinstance(await pool.acquire(default_profile()), Identity)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "shared identity pool" in r.getMessage()]
    assert len(warnings) == 1  # one line per interval, not one per request


async def test_a_rotated_ms_token_reaches_the_other_replica(cluster: Cluster) -> None:
    a, b = cluster.pool(recheck_s=0.0), cluster.pool(recheck_s=0.0)
    on_a, on_b = await a.acquire(default_profile()), await b.acquire(default_profile())
    assert isinstance(on_a, Identity) and isinstance(on_b, Identity) and on_a.key == on_b.key
    on_a.absorb([], "R" * 148)  # TikTok rotated it in a response a received
    await a.settle()
    again = await b.acquire(default_profile())
    assert again is on_b and on_b.ms_token == "R" * 148
    assert len(cluster.tiktok.bootstraps) == 1


async def test_cookie_updates_need_the_same_live_identity_and_a_newer_rotation(cluster: Cluster) -> None:
    client = redis_client(REDIS_URL, timeout_s=0.5)
    cluster.clients.append(client)
    shelf = RedisIdentityShelf(client, prefix=cluster.prefix)
    slot = "profile\x00Mozilla/5.0 (test)"
    record = IdentityRecord("id-1", "7" * 19, "profile", "Mozilla/5.0 (test)", {"ttwid": "t", "msToken": "m0"}, 1e9)
    assert not await shelf.update_cookies(slot, dataclasses.replace(record, rotated_at=1.0))  # nothing to update
    assert await shelf.load(slot) is None  # and nothing created
    await shelf.save(slot, record, ttl_s=60.0)
    newer = dataclasses.replace(record, cookies={"ttwid": "t", "msToken": "m1"}, rotated_at=2.0)
    assert await shelf.update_cookies(slot, newer)
    older = dataclasses.replace(newer, cookies={"msToken": "m-old"}, rotated_at=1.5)
    assert not await shelf.update_cookies(slot, older)
    assert not await shelf.update_cookies(slot, dataclasses.replace(newer, identity_id="id-2", rotated_at=3.0))
    loaded = await shelf.load(slot)
    assert loaded is not None and loaded.cookies["msToken"] == "m1" and loaded.rotated_at == 2.0
    assert 55_000 < await client.pttl(f"{cluster.prefix}identity:{slot_digest(slot)}") <= 60_000  # expiry kept
    await shelf.retire(slot, "id-1")
    assert not await shelf.update_cookies(slot, dataclasses.replace(newer, rotated_at=4.0))  # never resurrected
    retired = await shelf.load(slot)
    assert retired is not None and retired.retired and retired.cookies["msToken"] == "m1"


async def test_an_identity_blocked_on_one_replicas_socket_is_retired_on_the_other(cluster: Cluster) -> None:
    """The direct strategy with a socket probe on two replicas: TikTok blocks the shared identity's socket on
    replica a, which retires it; replica b, which adopted the same identity, moves to a fresh one too."""
    from ttsign.service.connect import Connected, ConnectService
    from ttsign.upstream.refusals import RefusalCode
    from ttsign.upstream.rooms import RoomDirectory
    from ttsign.upstream.signer import InProcessSigner
    from ttsign.upstream.socket import DirectSocket
    from ttsign.upstream.webcast import WebcastClient

    blocked: set[str] = set()

    class Probe:
        async def check(self, address: object, identity: Identity) -> Refusal | None:
            return Refusal(RefusalCode.DEVICE_BLOCKED, "socket", 415) if identity.key in blocked else None

    def replica() -> tuple[ConnectService, IdentityPool]:
        pool = cluster.pool(recheck_s=0.0)
        socket = DirectSocket("ws://127.0.0.1:1", signer=InProcessSigner(), rng=random.Random())
        rooms = RoomDirectory(cluster.tiktok, www_base=WWW)
        webcast = WebcastClient(cluster.tiktok, webcast_base=WWW)
        svc = ConnectService(pool, webcast, rooms=rooms, strategies=("direct",), socket=socket, probe=Probe())  # type: ignore[arg-type]
        return svc, pool

    (a, pool_a), (b, _) = replica(), replica()
    first_a, first_b = await a.connect("7390000000000000001"), await b.connect("7390000000000000001")
    assert isinstance(first_a, Connected) and isinstance(first_b, Connected) and first_a.ttwid == first_b.ttwid
    blocked.add(next(iter(pool_a._warm.values())).key)
    again_a = await a.connect("7390000000000000001")
    await pool_a.settle()
    again_b = await b.connect("7390000000000000001")
    assert isinstance(again_a, Connected) and again_a.ttwid != first_a.ttwid
    assert isinstance(again_b, Connected) and again_b.ttwid == again_a.ttwid  # b adopted a's replacement
