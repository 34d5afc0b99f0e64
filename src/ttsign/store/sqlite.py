"""The embedded default key store: one SQLite file, safe for several processes (WAL), no setup."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ttsign.store.base import KeyNotFoundError, KeyRecord, Limits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL,
    limits TEXT NOT NULL,
    chat_enabled INTEGER NOT NULL DEFAULT 0,
    session_forwarding INTEGER NOT NULL DEFAULT 0
)
"""
_SECRETS = "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
_SELECT = (
    "SELECT key_id, key_hash, name, created_at, revoked_at, limits, chat_enabled, session_forwarding FROM api_keys"
)
_INSERT = (
    "INSERT INTO api_keys (key_id, key_hash, name, created_at, revoked_at, limits, chat_enabled, session_forwarding) "
    "VALUES (?,?,?,?,?,?,?,?)"
)


def _row(record: KeyRecord) -> tuple[Any, ...]:
    return (
        record.key_id,
        record.key_hash,
        record.name,
        record.created_at,
        record.revoked_at,
        json.dumps(asdict(record.limits)),
        int(record.chat_enabled),
        int(record.session_forwarding),
    )


def _record(row: tuple[Any, ...]) -> KeyRecord:
    key_id, key_hash, name, created_at, revoked_at, limits, chat, forwarding = row
    return KeyRecord(
        key_id=key_id,
        key_hash=key_hash,
        name=name,
        created_at=created_at,
        revoked_at=revoked_at,
        limits=Limits(**json.loads(limits)),
        chat_enabled=bool(chat),
        session_forwarding=bool(forwarding),
    )


class SqliteKeyStore:
    """Blocking sqlite3 calls run in a worker thread so the event loop never waits on the disk."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.execute(_SECRETS)
        path.chmod(0o600)  # hashes only, but nobody else needs to read the file

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    async def _call(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._run, sql, params)

    async def add(self, record: KeyRecord) -> None:
        try:
            await self._call(_INSERT, _row(record))
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"key id {record.key_id} exists") from exc

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        rows = await self._call(_SELECT + " WHERE key_hash = ?", (key_hash,))
        return _record(rows[0]) if rows else None

    async def by_id(self, key_id: str) -> KeyRecord | None:
        rows = await self._call(_SELECT + " WHERE key_id = ?", (key_id,))
        return _record(rows[0]) if rows else None

    async def all(self) -> list[KeyRecord]:
        return [_record(row) for row in await self._call(_SELECT + " ORDER BY created_at")]

    async def replace(self, record: KeyRecord) -> None:
        def update() -> int:
            with self._lock:
                cursor = self._db.execute(
                    "UPDATE api_keys SET key_hash=?, name=?, created_at=?, revoked_at=?, limits=?, chat_enabled=?, "
                    "session_forwarding=? WHERE key_id=?",
                    (*_row(record)[1:], record.key_id),
                )
                return cursor.rowcount

        if await asyncio.to_thread(update) == 0:
            raise KeyNotFoundError(record.key_id)

    async def secret(self, name: str, make: Callable[[], str]) -> str:
        # INSERT OR IGNORE: when two processes race, the first one's value wins for both.
        await self._call("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", (name, make()))
        rows = await self._call("SELECT value FROM secrets WHERE name = ?", (name,))
        return str(rows[0][0])

    async def close(self) -> None:
        with self._lock:
            self._db.close()
