"""The SQLite store's schema, versioned with `PRAGMA user_version` and brought up to date by ordered migrations.

Version 0 is a file from before versioning (or a new, empty one). Each migration runs once, in its own
transaction together with the version bump, so a crash leaves the file at a whole version and several
processes opening the same file at once apply each step exactly once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from ttsign.store.private_files import read_or_create_secret

Migration = Callable[[sqlite3.Connection, Path], None]


class SchemaTooNewError(RuntimeError):
    """The file was written by a newer ttsign: opening it here could lose what that version keeps."""


def secret_path(store_path: Path, name: str) -> Path:
    """Where the embedded store keeps a server-wide secret: a private file beside the database, not in it,
    so a copy of the key database (a backup, `ttsign keys export`) never carries the JWT secret."""
    return store_path.with_name(f"{store_path.name}.{name}-secret")


def _create_keys(db: sqlite3.Connection, _: Path) -> None:
    """v1: the API keys (a pre-versioning file already has this table; its secrets table goes in v2)."""
    db.execute(
        """
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
    )


def _move_secrets_out(db: sqlite3.Connection, store_path: Path) -> None:
    """v2: secrets (the JWT key) leave the database for their own 0600 files, keeping their values so
    tokens already issued stay valid; secure_delete overwrites the freed pages instead of leaving them."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='secrets'").fetchone()
    if exists is None:
        return
    for name, value in db.execute("SELECT name, value FROM secrets").fetchall():
        read_or_create_secret(secret_path(store_path, str(name)), partial(str, value))
    db.execute("PRAGMA secure_delete=ON")
    db.execute("DELETE FROM secrets")
    db.execute("DROP TABLE secrets")


MIGRATIONS: Sequence[Migration] = (_create_keys, _move_secrets_out)
VERSION = len(MIGRATIONS)


def version_of(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, store_path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations the file lacks, oldest first; the version it ends at. `db` is in autocommit mode."""
    applied = False
    while True:
        db.execute("BEGIN IMMEDIATE")  # one writer: a process racing us waits, then sees our version
        try:
            current = version_of(db)
            if current > len(migrations):
                raise SchemaTooNewError(
                    f"{store_path} has schema version {current}; this ttsign knows up to {len(migrations)}"
                )
            if current == len(migrations):
                db.execute("COMMIT")
                break
            migrations[current](db, store_path)
            db.execute(f"PRAGMA user_version = {current + 1}")  # a pragma takes no bound parameters
            db.execute("COMMIT")
            applied = True
        except BaseException:
            db.execute("ROLLBACK")
            raise
    if applied:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old pages a migration overwrote leave the WAL too
    return len(migrations)
