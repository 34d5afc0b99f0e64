"""The embedded default key store: one SQLite file, safe for several processes (WAL), no setup.

The file, its -wal/-shm and its directory are private to the server's user from the start (private_files);
server-wide secrets live in their own 0600 files beside it, not in the database (sqlite_schema.secret_path).
"""

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
from ttsign.store.private_files import private_database, private_directory, read_or_create_secret
from ttsign.store.sqlite_schema import migrate, secret_path

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
        private_directory(path.parent)
        private_database(path)  # before SQLite opens it: the -wal and -shm inherit its 0600
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self.schema_version = migrate(self._db, path)

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
        # The first process to create the file wins; every other one reads its value.
        return await asyncio.to_thread(read_or_create_secret, secret_path(self.path, name), make)

    async def forget_secret(self, name: str) -> None:
        await asyncio.to_thread(secret_path(self.path, name).unlink, missing_ok=True)

    async def close(self) -> None:
        with self._lock:
            self._db.close()
