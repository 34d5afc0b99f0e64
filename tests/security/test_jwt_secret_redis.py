"""Issue 12 item 5, with Redis: replicas can only share a generated JWT secret through Redis itself, so the
server says at start that TTSIGN_JWT_SECRET should be set (and never prints the secret); once it is set, the
generated copy (in Redis, or the file beside SQLite) is deleted."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from ttsign.api.app import create_app, jwt_loader
from ttsign.config import Settings
from ttsign.service.jwt_auth import JwtAuthority, JwtError
from ttsign.store.redis import RedisKeyStore, redis_client
from ttsign.store.sqlite import SqliteKeyStore
from ttsign.store.sqlite_schema import secret_path

WARNING = "set TTSIGN_JWT_SECRET"


def start_messages(caplog: pytest.LogCaptureFixture, settings: Settings) -> list[str]:
    with caplog.at_level(logging.WARNING, logger="ttsign"):
        create_app(settings)  # Redis connects lazily: nothing is opened here
    return [record.getMessage() for record in caplog.records]


def test_redis_without_a_jwt_secret_warns_at_start(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    settings = Settings(redis_url="redis://127.0.0.1:6379/13", store_path=tmp_path / "s.sqlite3")
    assert any(WARNING in message for message in start_messages(caplog, settings))


def test_redis_with_a_jwt_secret_does_not_warn(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    secret = "operator-chosen-" + "s" * 32
    settings = Settings(redis_url="redis://127.0.0.1:6379/13", jwt_secret=secret, store_path=tmp_path / "s.sqlite3")
    messages = start_messages(caplog, settings)
    assert not any(WARNING in message for message in messages)
    assert not any(secret in message for message in messages)


def test_the_embedded_store_does_not_warn(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    assert not any(WARNING in m for m in start_messages(caplog, Settings(store_path=tmp_path / "s.sqlite3")))


async def test_a_configured_secret_drops_the_generated_copy_from_redis(tmp_path: Path) -> None:
    """Moving the secret out of Redis: once TTSIGN_JWT_SECRET is set, the old generated one is deleted."""
    require_redis()
    prefix = new_prefix()
    store = RedisKeyStore(redis_client(REDIS_URL), prefix=prefix)
    try:
        generated = await store.secret("jwt", lambda: "generated-" + "g" * 40)
        assert await store.client.exists(f"{prefix}secret:jwt") == 1
        configured = "operator-chosen-" + "c" * 32
        settings = Settings(redis_url=REDIS_URL, redis_key_prefix=prefix, jwt_secret=configured)
        authority = await jwt_loader(settings, store)()
        assert await store.client.exists(f"{prefix}secret:jwt") == 0
        token, _ = JwtAuthority(configured.encode()).issue("k1", lifetime_s=60)
        assert authority.verify(token).key_id == "k1"
        with pytest.raises(JwtError):  # nothing signed with the generated secret passes any more
            authority.verify(JwtAuthority(generated.encode()).issue("k1", lifetime_s=60)[0])
    finally:
        await store.close()
        delete_prefix(prefix)


async def test_a_configured_secret_drops_the_generated_file_beside_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteKeyStore(db)
    try:
        await store.secret("jwt", lambda: "generated-" + "g" * 40)
        assert secret_path(db, "jwt").exists()
        await jwt_loader(Settings(store_path=db, jwt_secret="operator-chosen-" + "c" * 32), store)()
        assert not secret_path(db, "jwt").exists()
        # Without the setting, a generated secret is made (and kept) again.
        await jwt_loader(Settings(store_path=db), store)()
        assert secret_path(db, "jwt").exists()
    finally:
        await store.close()
