"""Usage in SQLite, in a file of its own beside the key store (`<store>.usage.sqlite3`).

A separate file because usage is written every few seconds and keys rarely: the key store's readers never
queue behind usage writes, and usage can be deleted without touching keys. Private (0600) like the store.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ttsign.store.private_files import private_database, private_directory
from ttsign.store.usage import (
    HOURS_KEPT_S,
    RETENTION_S,
    Resolution,
    UsageBatch,
    UsagePoint,
    add_totals,
    day_start,
    rank_rooms,
)

T = TypeVar("T")
_TABLES = {"minute": "usage_minutes", "hour": "usage_hours"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_minutes (
    subject TEXT NOT NULL, counter TEXT NOT NULL, start INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (subject, start, counter)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage_hours (
    subject TEXT NOT NULL, counter TEXT NOT NULL, start INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (subject, start, counter)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage_rooms (
    subject TEXT NOT NULL, room TEXT NOT NULL, start INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (subject, start, room)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS usage_hours_by_start ON usage_hours (start);
"""


def usage_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".usage.sqlite3")


class SqliteUsageStore:
    """Blocking sqlite3 work runs in a worker thread; one connection, guarded by a lock."""

    def __init__(self, path: Path) -> None:
        private_directory(path.parent)
        private_database(path)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return work(self._db)

        return await asyncio.to_thread(locked)

    async def add(self, batch: UsageBatch) -> None:
        def write(db: sqlite3.Connection) -> None:
            with db:  # one transaction per flush
                db.execute("BEGIN")
                for table, counts in (("usage_minutes", batch.minutes), ("usage_hours", batch.hours())):
                    db.executemany(
                        f"INSERT INTO {table} (subject, counter, start, count) VALUES (?,?,?,?) "  # noqa: S608 - fixed names
                        "ON CONFLICT (subject, start, counter) DO UPDATE SET count = count + excluded.count",
                        [(s, c, start, n) for (s, c, start), n in counts.items()],
                    )
                db.executemany(
                    "INSERT INTO usage_rooms (subject, room, start, count) VALUES (?,?,?,?) "
                    "ON CONFLICT (subject, start, room) DO UPDATE SET count = count + excluded.count",
                    [(s, room, start, n) for (s, room, start), n in batch.rooms.items()],
                )

        await self._run(write)

    async def series(self, subject: str, resolution: Resolution, since: int) -> list[UsagePoint]:
        query = (
            f"SELECT start, counter, count FROM {_TABLES[resolution]} "  # noqa: S608 - fixed names
            "WHERE subject = ? AND start >= ? ORDER BY start, counter"
        )
        rows = await self._run(lambda db: db.execute(query, (subject, since)).fetchall())
        return [UsagePoint(int(start), str(counter), int(n)) for start, counter, n in rows]

    async def top_rooms(self, subject: str, since: int, limit: int) -> list[tuple[str, int]]:
        query = "SELECT room, SUM(count) FROM usage_rooms WHERE subject = ? AND start >= ? GROUP BY room"
        rows = await self._run(lambda db: db.execute(query, (subject, since)).fetchall())
        return rank_rooms(((str(room), int(n)) for room, n in rows), limit)

    async def totals(self, since: int) -> dict[str, dict[str, int]]:
        query = "SELECT subject, counter, SUM(count) FROM usage_hours WHERE start >= ? GROUP BY subject, counter"
        rows = await self._run(lambda db: db.execute(query, (day_start(since),)).fetchall())
        return add_totals({}, ((str(s), str(c), int(n)) for s, c, n in rows))

    async def prune(self, now: int) -> None:
        def delete(db: sqlite3.Connection) -> None:
            for resolution, table in _TABLES.items():
                cutoff = now - RETENTION_S[resolution]  # type: ignore[index]
                db.execute(f"DELETE FROM {table} WHERE start < ?", (cutoff,))  # noqa: S608 - fixed names
            db.execute("DELETE FROM usage_rooms WHERE start < ?", (now - HOURS_KEPT_S,))
            # Table statistics, sampled (milliseconds even with millions of rows): without them SQLite scans the
            # whole hour table for `totals` (300 ms with 1,000 keys x 30 days); with them it skips along the
            # primary key by subject (30 ms), so the console's key list stays fast.
            db.execute("PRAGMA analysis_limit=400")
            db.execute("ANALYZE usage_hours")

        await self._run(delete)

    async def close(self) -> None:
        await self._run(lambda db: db.close())
