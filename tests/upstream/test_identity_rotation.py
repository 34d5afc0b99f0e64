"""Rotated msTokens and ttwids reach the other replicas: one delayed write, newest wins, never a retired one."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time

from ttsign.signing import default_profile
from ttsign.store.base import IdentityRecord
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import Identity, IdentityPool, bootstrap_identity, identity_slot

from .fake_tiktok import FakeTikTok

WWW = "http://127.0.0.1:9"
TOKEN_1, TOKEN_2, TOKEN_3 = "A" * 148, "B" * 148, "C" * 148


class MemoryShelf:
    """The IdentityShelf protocol in memory, with the same rules as Redis's, counting the writes."""

    def __init__(self) -> None:
        self.records: dict[str, IdentityRecord] = {}
        self.saves = 0
        self.cookie_updates = 0
        self.refused_updates = 0

    async def load(self, slot: str) -> IdentityRecord | None:
        return self.records.get(slot)

    async def save(self, slot: str, record: IdentityRecord, ttl_s: float) -> None:
        self.saves += 1
        self.records[slot] = record

    async def update_cookies(self, slot: str, record: IdentityRecord) -> bool:
        held = self.records.get(slot)
        if held is None or held.identity_id != record.identity_id or held.retired:
            self.refused_updates += 1
            return False
        if record.rotated_at <= held.rotated_at:
            self.refused_updates += 1
            return False
        self.cookie_updates += 1
        self.records[slot] = dataclasses.replace(held, cookies=dict(record.cookies), rotated_at=record.rotated_at)
        return True

    async def retire(self, slot: str, identity_id: str) -> None:
        held = self.records.get(slot)
        if held is not None and held.identity_id == identity_id:
            self.records[slot] = dataclasses.replace(held, retired=True)

    async def try_lock(self, slot: str, ttl_s: float) -> str | None:
        return "token"

    async def unlock(self, slot: str, token: str) -> None:
        return None


class WallClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def replica(shelf: MemoryShelf, tiktok: FakeTikTok, **options: object) -> IdentityPool:
    async def factory(profile: object) -> object:
        return await bootstrap_identity(tiktok, WWW, profile, rng=random.Random())  # type: ignore[arg-type]

    options = {"recheck_s": 0.0, "rotation_save_delay_s": 0.1} | options
    return IdentityPool(factory, shelf=shelf, **options)  # type: ignore[arg-type]


async def identity_of(pool: IdentityPool) -> Identity:
    found = await pool.acquire(default_profile())
    assert isinstance(found, Identity)
    return found


def test_absorb_reports_a_changed_ms_token_or_ttwid_only() -> None:
    rotations: list[str] = []
    identity = Identity("7" * 19, default_profile(), CookieJar({"ttwid": "t1", "msToken": TOKEN_1}), created_at=0.0)
    identity.absorb(["odin_tt=x; Path=/"], None)  # another cookie: not a rotation
    identity.absorb([], TOKEN_1)  # the same token again
    identity.absorb([], "not-a-token")  # malformed: ignored
    assert rotations == []
    identity.on_rotate = lambda i: rotations.append(i.ms_token)
    identity.absorb([], TOKEN_1)
    identity.absorb([], TOKEN_2)
    identity.absorb(["ttwid=t2; Path=/"], None)
    identity.absorb([f"msToken={TOKEN_3}; Path=/"], TOKEN_3)  # one rotation, told once
    assert rotations == [TOKEN_2, TOKEN_2, TOKEN_3]
    assert identity.ttwid == "t2"


async def test_rotations_are_written_once_after_the_delay_and_adopted_by_the_other_replica() -> None:
    shelf, tiktok = MemoryShelf(), FakeTikTok()
    a, b = replica(shelf, tiktok), replica(shelf, tiktok)
    on_a, on_b = await identity_of(a), await identity_of(b)
    assert on_b.key == on_a.key and on_b is not on_a and len(tiktok.bootstraps) == 1
    for token in (TOKEN_1, TOKEN_2, TOKEN_3):
        on_a.absorb([], token)  # request path: nothing written yet
    assert shelf.cookie_updates == 0
    await asyncio.sleep(0.3)
    assert shelf.cookie_updates == 1  # three rotations, one write, the latest token
    again = await identity_of(b)  # b's next sync with the shelf
    assert again is on_b and on_b.ms_token == TOKEN_3 and on_b.rotated_at == on_a.rotated_at
    assert shelf.saves == 1  # still the bootstrap's record, updated in place


async def test_requests_without_a_rotation_write_nothing() -> None:
    shelf, tiktok = MemoryShelf(), FakeTikTok()
    a = replica(shelf, tiktok)
    identity = await identity_of(a)
    for _ in range(20):
        identity.absorb([], identity.ms_token)
        await identity_of(a)
    await a.settle()
    assert (shelf.saves, shelf.cookie_updates, shelf.refused_updates) == (1, 0, 0)


async def test_settle_writes_a_scheduled_rotation_now() -> None:
    shelf = MemoryShelf()
    a = replica(shelf, FakeTikTok(), rotation_save_delay_s=60.0)
    identity = await identity_of(a)
    identity.absorb([], TOKEN_1)
    await asyncio.wait_for(a.settle(), 1.0)
    assert shelf.cookie_updates == 1
    (record,) = shelf.records.values()
    assert record.cookies["msToken"] == TOKEN_1
    identity.absorb([], TOKEN_2)  # after a settle, rotations are delayed again
    await asyncio.sleep(0.05)
    assert shelf.cookie_updates == 1
    await a.settle()


async def test_a_retired_identity_is_never_written_back() -> None:
    shelf, tiktok = MemoryShelf(), FakeTikTok()
    a, b = replica(shelf, tiktok), replica(shelf, tiktok)
    on_a, on_b = await identity_of(a), await identity_of(b)
    on_a.absorb([], TOKEN_1)
    a.retire(on_a, "forbidden_403")  # before its rotation was written
    on_b.absorb([], TOKEN_2)  # b has not heard yet: its write is refused by the shelf
    await a.settle()
    await b.settle()
    (record,) = shelf.records.values()
    assert record.retired and record.cookies["msToken"] == "M" * 148
    assert shelf.cookie_updates == 0 and shelf.refused_updates == 1
    replacement = await identity_of(b)
    assert replacement.key != on_a.key and on_b.retired


async def test_the_newest_rotation_wins_whichever_replica_writes_last() -> None:
    shelf, tiktok = MemoryShelf(), FakeTikTok()
    wall_a, wall_b = WallClock(), WallClock()
    a = replica(shelf, tiktok, wall_clock=wall_a, rotation_save_delay_s=60.0)
    b = replica(shelf, tiktok, wall_clock=wall_b, rotation_save_delay_s=60.0)
    on_a, on_b = await identity_of(a), await identity_of(b)
    on_a.absorb([], TOKEN_1)
    wall_b.offset = 5.0
    on_b.absorb([], TOKEN_2)  # later
    await b.settle()
    await a.settle()  # a writes last, but its rotation is older: refused
    (record,) = shelf.records.values()
    assert record.cookies["msToken"] == TOKEN_2 and shelf.refused_updates == 1
    assert (await identity_of(a)).ms_token == TOKEN_2  # a takes the newer one at its next sync
    assert (await identity_of(b)).ms_token == TOKEN_2  # and b keeps its own


async def test_a_rotation_after_adopting_a_later_one_is_still_newer_whatever_the_wall_clock() -> None:
    shelf, tiktok = MemoryShelf(), FakeTikTok()
    wall_b = WallClock()
    a = replica(shelf, tiktok, rotation_save_delay_s=60.0)
    b = replica(shelf, tiktok, wall_clock=wall_b, rotation_save_delay_s=60.0)
    on_a, on_b = await identity_of(a), await identity_of(b)
    on_a.absorb([], TOKEN_1)
    await a.settle()
    wall_b.offset = -30.0  # b's clock is behind a's
    assert (await identity_of(b)).ms_token == TOKEN_1
    on_b.absorb([], TOKEN_2)
    await b.settle()
    (record,) = shelf.records.values()
    assert record.cookies["msToken"] == TOKEN_2  # b's rotation came after the one it adopted


async def test_without_a_shelf_nothing_is_scheduled() -> None:
    tiktok = FakeTikTok()

    async def factory(profile: object) -> object:
        return await bootstrap_identity(tiktok, WWW, profile, rng=random.Random())  # type: ignore[arg-type]

    pool = IdentityPool(factory)  # type: ignore[arg-type]
    identity = await identity_of(pool)
    identity.absorb([], TOKEN_1)
    assert identity.on_rotate is None and identity.ms_token == TOKEN_1
    assert not pool._background


def test_a_rotation_outside_an_event_loop_is_kept_locally_and_schedules_nothing() -> None:
    shelf = MemoryShelf()
    pool = replica(shelf, FakeTikTok())
    identity = Identity("7" * 19, default_profile(), CookieJar({"ttwid": "t", "msToken": TOKEN_1}), created_at=0.0)
    pool._keep(identity_slot(default_profile()), identity)
    identity.absorb([], TOKEN_2)
    assert identity.ms_token == TOKEN_2 and identity.rotated_at > 0
    assert not pool._background and not pool._saving
