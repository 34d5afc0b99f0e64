"""Issue 12 item 5: the embedded store is private from its first byte, and the JWT secret is not in it.

The probe found the -wal/-shm of a running server readable by other local users (created with the default
umask, before the database was chmod-ed) and the JWT secret inside the same database as the keys.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Proc, serve_argv, stop_cleanly, ttsign_keys
from tests.store.pre_versioning import write_pre_versioning_store
from ttsign.service.keys import KeyService, hash_key
from ttsign.store.sqlite import SqliteKeyStore
from ttsign.store.sqlite_schema import VERSION, SchemaTooNewError, secret_path

PERMISSIVE_UMASK = 0o022


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual login umask: files are created world-readable unless the code says otherwise."""
    previous = os.umask(PERMISSIVE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def store_files(db: Path) -> list[Path]:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


@pytest.mark.usefixtures("permissive_umask")
async def test_database_wal_and_shm_are_0600_and_the_new_directory_0700(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "keys.sqlite3"
    store = SqliteKeyStore(db)
    try:
        await KeyService(store).create("canary")  # a write: the -wal holds it while the store is open
        for path in store_files(db):
            assert path.exists(), path
            assert mode(path) == 0o600, f"{path.name} is {oct(mode(path))}"
        assert mode(db.parent) == 0o700
    finally:
        await store.close()


@pytest.mark.usefixtures("permissive_umask")
async def test_a_shared_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    store = SqliteKeyStore(tmp_path / "keys.sqlite3")
    await store.close()
    assert mode(tmp_path) == 0o755


async def test_files_left_readable_by_an_older_version_are_made_private(tmp_path: Path) -> None:
    db = tmp_path / "keys.sqlite3"
    await SqliteKeyStore(db).close()
    for path in store_files(db):
        path.touch()
        path.chmod(0o644)
    store = SqliteKeyStore(db)
    try:
        assert [mode(path) for path in store_files(db)] == [0o600, 0o600, 0o600]
    finally:
        await store.close()


@pytest.mark.usefixtures("permissive_umask")
async def test_jwt_secret_lives_in_its_own_0600_file_not_in_the_database(tmp_path: Path) -> None:
    db = tmp_path / "keys.sqlite3"
    store = SqliteKeyStore(db)
    try:
        value = await store.secret("jwt", lambda: "canary-secret-" + "x" * 40)
        raw = b"".join(path.read_bytes() for path in store_files(db) if path.exists())
    finally:
        await store.close()
    assert value == "canary-secret-" + "x" * 40
    assert b"canary-secret" not in raw
    assert secret_path(db, "jwt").read_text() == value
    assert mode(secret_path(db, "jwt")) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


async def test_an_old_store_is_migrated_its_secret_moved_out_with_the_same_value(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    old_secret = "old-jwt-secret-" + "q" * 40
    plaintext = "tts_k1_" + "z" * 43
    write_pre_versioning_store(db, old_secret, hash_key(plaintext))
    store = SqliteKeyStore(db)
    try:
        assert store.schema_version == VERSION
        # Tokens signed before the upgrade stay valid: the file holds the value the database held.
        assert await store.secret("jwt", lambda: "a new one would invalidate tokens") == old_secret
        found = await store.by_hash(hash_key(plaintext))
        assert found is not None and found.limits.per_minute == 5
    finally:
        await store.close()
    check = sqlite3.connect(db)
    try:
        assert check.execute("PRAGMA user_version").fetchone()[0] == VERSION
        tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"api_keys"}
    finally:
        check.close()
    raw = b"".join(path.read_bytes() for path in store_files(db) if path.exists())
    assert old_secret.encode() not in raw  # secure_delete + checkpoint: no stale page keeps it


async def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    newer = sqlite3.connect(db)
    newer.execute(f"PRAGMA user_version = {VERSION + 1}")
    newer.close()
    with pytest.raises(SchemaTooNewError, match="schema version"):
        SqliteKeyStore(db)


@pytest.mark.e2e
@pytest.mark.usefixtures("permissive_umask")
def test_a_running_server_keeps_every_store_file_private(tmp_path: Path) -> None:
    """`ttsign serve` under umask 022: while it runs, db/-wal/-shm and the JWT secret file are 0600."""
    db = tmp_path / "data" / "ttsign.sqlite3"
    env = {"TTSIGN_STORE_PATH": str(db), "TTSIGN_CONTACT_EMAIL": "ops@example.test"}
    server = Proc(serve_argv("http://127.0.0.1:9"), name="server", env=env).start()
    try:
        url = server.wait_ready()["url"]
        key = ttsign_keys(env, "create", "--name", "perm")["api_key"]
        minted = httpx.post(url + "/accounts/me/jwt", headers={"X-Api-Key": key}, json={}, timeout=10)
        assert minted.status_code == 200, minted.text
        for path in [*store_files(db), secret_path(db, "jwt")]:
            assert path.exists(), path
            assert mode(path) == 0o600, f"{path.name} is {oct(mode(path))} while the server runs"
        assert mode(db.parent) == 0o700
    finally:
        stop_cleanly(server)
