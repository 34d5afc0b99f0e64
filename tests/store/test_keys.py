"""API keys through both embedded stores: hashed at rest, shown once, revocable, limits kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ttsign.service.keys import KeyService, hash_key
from ttsign.store.base import KeyNotFoundError, KeyStore, Limits
from ttsign.store.memory import MemoryKeyStore
from ttsign.store.sqlite import SqliteKeyStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyStore]:
    backend: KeyStore = MemoryKeyStore() if request.param == "memory" else SqliteKeyStore(tmp_path / "keys.sqlite3")
    yield backend
    await backend.close()


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
