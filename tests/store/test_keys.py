"""API keys through every store (memory, SQLite, Redis): hashed at rest, shown once, revocable, limits kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from ttsign.service.keys import KeyService, hash_key
from ttsign.store.base import KeyNotFoundError, KeyStore, Limits
from ttsign.store.memory import MemoryKeyStore
from ttsign.store.redis import RedisKeyStore, redis_client
from ttsign.store.sqlite import SqliteKeyStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyStore]:
    prefix = ""
    backend: KeyStore
    if request.param == "memory":
        backend = MemoryKeyStore()
    elif request.param == "sqlite":
        backend = SqliteKeyStore(tmp_path / "keys.sqlite3")
    else:
        require_redis()
        prefix = new_prefix()
        backend = RedisKeyStore(redis_client(REDIS_URL), prefix=prefix)
    yield backend
    await backend.close()
    if prefix:
        delete_prefix(prefix)


async def test_created_key_authenticates_and_carries_its_limits(store: KeyStore) -> None:
    keys = KeyService(store)
    record, plaintext = await keys.create("overlay", Limits(per_minute=5, per_day=100))
    assert plaintext.startswith("tts_") and record.key_id in plaintext
    found = await keys.authenticate(plaintext)
    assert found is not None and found.key_id == record.key_id
    assert found.limits == Limits(per_minute=5, per_day=100)
    assert await keys.authenticate(plaintext + "x") is None
    assert await keys.authenticate("") is None
    assert await keys.authenticate("tts_" + "a" * 40) is None


async def test_revoked_key_is_refused_after_the_cache_ttl(store: KeyStore) -> None:
    clock = Clock()
    keys = KeyService(store, clock=clock, cache_ttl_s=1.0)
    record, plaintext = await keys.create("bot")
    assert await keys.authenticate(plaintext) is not None
    other_process = KeyService(store, clock=clock)
    await other_process.revoke(record.key_id)
    clock.now += 1.01
    assert await keys.authenticate(plaintext) is None
    assert (await keys.get(record.key_id)).revoked_at == clock.now - 1.01


async def test_limits_and_chat_can_be_changed(store: KeyStore) -> None:
    keys = KeyService(store)
    record, _ = await keys.create("x")
    updated = await keys.update(record.key_id, limits=Limits(per_hour=7), chat_enabled=True)
    assert (await keys.get(record.key_id)).limits.per_hour == 7
    assert updated.chat_enabled
    with pytest.raises(KeyNotFoundError):
        await keys.revoke("nope")
    assert [r.key_id for r in await keys.list()] == [record.key_id]


async def test_sqlite_file_holds_only_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    store = SqliteKeyStore(path)
    keys = KeyService(store)
    _, plaintext = await keys.create("canary")
    await store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    secret = plaintext.split("_", 2)[2]
    assert secret.encode() not in raw and plaintext.encode() not in raw
    assert hash_key(plaintext).encode() in raw
    assert path.stat().st_mode & 0o077 == 0
    reopened = KeyService(SqliteKeyStore(path))
    assert await reopened.authenticate(plaintext) is not None


async def test_server_secret_is_created_once_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    first, second = SqliteKeyStore(path), SqliteKeyStore(path)
    value = await first.secret("jwt", lambda: "a" * 40)
    assert await second.secret("jwt", lambda: "b" * 40) == value == "a" * 40
    memory = MemoryKeyStore()
    assert await memory.secret("jwt", lambda: "c") == await memory.secret("jwt", lambda: "d") == "c"


async def test_store_refuses_a_duplicate_id_and_a_replace_of_an_unknown_one(store: KeyStore) -> None:
    keys = KeyService(store)
    record, _ = await keys.create("a")
    with pytest.raises(ValueError, match="exists"):
        await store.add(record)
    with pytest.raises(KeyNotFoundError):
        await store.replace(replace(record, key_id="missing"))
    assert await store.by_id("missing") is None
    assert await store.by_hash("0" * 64) is None


async def test_listing_is_in_creation_order(store: KeyStore) -> None:
    clock = Clock()
    keys = KeyService(store, clock=clock)
    created = []
    for name in ("c", "a", "b"):
        created.append((await keys.create(name))[0].key_id)
        clock.now += 1
    assert [r.key_id for r in await keys.list()] == created


async def test_redis_holds_only_the_hash_and_shares_keys_between_clients() -> None:
    require_redis()
    prefix = new_prefix()
    first = RedisKeyStore(redis_client(REDIS_URL), prefix=prefix)
    second = RedisKeyStore(redis_client(REDIS_URL), prefix=prefix)  # another replica
    try:
        record, plaintext = await KeyService(first).create("canary", Limits(per_minute=3, rooms_per_hour=2))
        dump = b""
        raw = first.client
        for key in [k async for k in raw.scan_iter(match=f"{prefix}*")]:
            kind = await raw.type(key)
            if kind == "hash":
                dump += repr(await raw.hgetall(key)).encode()
            elif kind == "string":
                dump += (await raw.get(key) or "").encode()
            dump += key.encode()
        secret = plaintext.split("_", 2)[2]
        assert secret.encode() not in dump and plaintext.encode() not in dump
        assert hash_key(plaintext).encode() in dump
        found = await KeyService(second).authenticate(plaintext)
        assert found == record
        assert await second.secret("jwt", lambda: "b" * 40) == await first.secret("jwt", lambda: "a" * 40)
    finally:
        await first.close()
        await second.close()
        delete_prefix(prefix)
