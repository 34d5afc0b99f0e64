"""`ttsign keys` as an operator runs it (issue 12 items 11 and 14): real processes, real SQLite and Redis."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from ttsign.cli_keys import store_description
from ttsign.config import Settings
from ttsign.service.keys import KeyService, hash_key
from ttsign.store.backends import open_key_store


def keys(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TTSIGN_")}
    return subprocess.run(
        [sys.executable, "-m", "ttsign.cli", "keys", *args],
        env={**clean, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"TTSIGN_STORE_PATH": str(tmp_path / "keys.sqlite3")}


def test_create_with_one_window_gets_the_server_defaults_for_the_others(sqlite_env: dict[str, str]) -> None:
    env = {**sqlite_env, "TTSIGN_KEY_PER_HOUR": "700", "TTSIGN_KEY_PER_DAY": "9000"}
    created = ok(keys(env, "create", "--name", "m", "--per-minute", "5"))
    assert isinstance(created, dict)
    assert created["limits"] == {"per_minute": 5}
    assert created["effective_limits"] == {"per_minute": 5, "per_hour": 700, "per_day": 9000, "rooms_per_hour": None}


def test_set_limits_changes_only_the_windows_given(sqlite_env: dict[str, str]) -> None:
    created = ok(keys(sqlite_env, "create", "--name", "m", "--per-minute", "5", "--per-day", "100"))
    assert isinstance(created, dict)
    changed = ok(keys(sqlite_env, "set-limits", created["key_id"], "--per-hour", "50"))
    assert isinstance(changed, dict)
    assert changed["limits"] == {"per_minute": 5, "per_hour": 50, "per_day": 100}


def test_list_json_has_iso_times_and_never_a_key(sqlite_env: dict[str, str]) -> None:
    created = ok(keys(sqlite_env, "create", "--name", "a"))
    assert isinstance(created, dict)
    ok(keys(sqlite_env, "revoke", created["key_id"]))
    result = keys(sqlite_env, "list", "--json")
    listed = ok(result)
    assert isinstance(listed, list) and [row["key_id"] for row in listed] == [created["key_id"]]
    row = listed[0]
    assert row["created_at"].endswith("Z") and row["revoked_at"].endswith("Z")
    assert datetime.fromisoformat(row["created_at"]) <= datetime.fromisoformat(row["revoked_at"])
    assert created["api_key"] not in result.stdout


def test_every_keys_command_names_its_store(sqlite_env: dict[str, str]) -> None:
    result = keys(sqlite_env, "list")
    assert result.returncode == 0
    assert f"store: sqlite:{sqlite_env['TTSIGN_STORE_PATH']}" in result.stderr


def test_a_redis_store_is_named_without_its_password() -> None:
    settings = Settings(redis_url="redis://ops:hunter2-secret@10.0.0.5:6380/2")
    assert store_description(settings) == "redis://ops@10.0.0.5:6380/2"
    assert store_description(Settings(redis_url="redis://:only-a-password@host/0")) == "redis://host/0"


def test_export_holds_hashes_only_and_its_file_is_private(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    created = ok(keys(sqlite_env, "create", "--name", "exported", "--per-minute", "3", "--chat"))
    assert isinstance(created, dict)
    target = tmp_path / "keys.json"
    target.write_text("an older export, world-readable")
    target.chmod(0o644)
    result = keys(sqlite_env, "export", "--output", str(target))
    assert result.returncode == 0, result.stderr
    text = target.read_text()
    assert created["api_key"] not in text and created["api_key"].split("_", 2)[2] not in text
    assert hash_key(created["api_key"]) in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    document = json.loads(text)
    assert document["format"] == "ttsign-keys" and document["keys"][0]["chat_enabled"] is True


def test_import_refuses_a_file_that_is_not_an_export(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    for content, message in [("{not json", "not JSON"), ('{"format": "other", "version": 1, "keys": []}', "format")]:
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        result = keys(sqlite_env, "import", str(bad))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: ") and message in result.stderr


async def test_keys_move_from_sqlite_to_redis_and_still_authenticate(sqlite_env: dict[str, str]) -> None:
    require_redis()
    prefix = new_prefix()
    redis_env = {"TTSIGN_REDIS_URL": REDIS_URL, "TTSIGN_REDIS_KEY_PREFIX": prefix}
    try:
        first = ok(keys(sqlite_env, "create", "--name", "one", "--per-hour", "40"))
        second = ok(keys(sqlite_env, "create", "--name", "two"))
        assert isinstance(first, dict) and isinstance(second, dict)
        ok(keys(sqlite_env, "revoke", second["key_id"]))
        exported = keys(sqlite_env, "export")
        assert exported.returncode == 0, exported.stderr
        report = ok(keys(redis_env, "import", "-", stdin=exported.stdout))
        assert report == {"imported": 2, "skipped": []}
        again = ok(keys(redis_env, "import", "--from-sqlite", sqlite_env["TTSIGN_STORE_PATH"]))
        assert again == {"imported": 0, "skipped": [first["key_id"], second["key_id"]]}  # idempotent
        moved = keys(redis_env, "list", "--json")
        assert "store: redis://127.0.0.1:6379/13" in moved.stderr
        rows = {row["key_id"]: row for row in ok(moved)}  # type: ignore[union-attr]
        assert rows[first["key_id"]]["limits"] == {"per_hour": 40}
        assert rows[first["key_id"]]["created_at"] == first["created_at"]
        assert rows[second["key_id"]]["revoked"] is True
        assert await _authenticates(redis_env, first["api_key"])
    finally:
        delete_prefix(prefix)


async def _authenticates(env: dict[str, str], plaintext: str) -> bool:
    """Does the store named by `env` accept the key (the server's own check, run against that store)?"""
    url, prefix = env["TTSIGN_REDIS_URL"], env["TTSIGN_REDIS_KEY_PREFIX"]
    store = open_key_store(store_path=Path("unused"), redis_url=url, prefix=prefix)
    try:
        return await KeyService(store).authenticate(plaintext) is not None
    finally:
        await store.close()


def test_import_says_what_is_missing(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    for args, message in [
        ([str(tmp_path / "nowhere.json")], "cannot read"),
        (["--from-sqlite", str(tmp_path / "nowhere.sqlite3")], "no such file"),
        ([], "give an export file"),
    ]:
        result = keys(sqlite_env, "import", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: ") and message in result.stderr
