"""A key store file as ttsign wrote it before schema versions (for the migration tests)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def write_pre_versioning_store(db: Path, jwt_secret: str, key_hash: str) -> None:
    """A store as ttsign wrote it before schema versions: user_version 0, the JWT secret in a table."""
    old = sqlite3.connect(db)
    old.executescript(
        """
        PRAGMA journal_mode=WAL;
        CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
            created_at REAL NOT NULL, revoked_at REAL, limits TEXT NOT NULL,
            chat_enabled INTEGER NOT NULL DEFAULT 0, session_forwarding INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )
    old.execute("INSERT INTO secrets VALUES ('jwt', ?)", (jwt_secret,))
    old.execute(
        "INSERT INTO api_keys VALUES ('k1', ?, 'old key', 1000.0, NULL, ?, 0, 0)",
        (key_hash, '{"per_minute": 5, "per_hour": null, "per_day": null, "rooms_per_hour": null}'),
    )
    old.commit()
    old.close()
