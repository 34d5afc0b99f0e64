"""The SQLite store's schema versions (issue 12 item 14): ordered migrations, each once, all-or-nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.pre_versioning import write_pre_versioning_store
from ttsign.store.sqlite_schema import VERSION, migrate, secret_path, version_of


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_migrations_run_in_order_once_and_a_reopen_runs_none(tmp_path: Path) -> None:
    ran: list[int] = []
    steps = [lambda db, _, n=n: ran.append(n) for n in (1, 2, 3)]
    db = connect(tmp_path / "s.sqlite3")
    assert migrate(db, tmp_path / "s.sqlite3", steps) == 3
    assert migrate(db, tmp_path / "s.sqlite3", steps) == 3
    assert ran == [1, 2, 3] and version_of(db) == 3
    more = [*steps, lambda db, _: ran.append(4)]
    migrate(db, tmp_path / "s.sqlite3", more)
    assert ran == [1, 2, 3, 4]  # an upgrade runs only the new step


def test_a_failing_migration_leaves_the_file_at_the_last_whole_version(tmp_path: Path) -> None:
    def create(db: sqlite3.Connection, _: Path) -> None:
        db.execute("CREATE TABLE t (x INTEGER)")

    def broken(db: sqlite3.Connection, _: Path) -> None:
        db.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("disk full")

    db = connect(tmp_path / "s.sqlite3")
    with pytest.raises(RuntimeError, match="disk full"):
        migrate(db, tmp_path / "s.sqlite3", [create, broken])
    assert version_of(db) == 1
    assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0  # the half-done step was rolled back


def test_a_new_file_ends_at_the_current_version(tmp_path: Path) -> None:
    db = connect(tmp_path / "s.sqlite3")
    assert migrate(db, tmp_path / "s.sqlite3") == VERSION == version_of(db)


def test_processes_opening_an_old_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    """Workers of one server open the same file together: every one succeeds and the secret keeps its value."""
    db = tmp_path / "old.sqlite3"
    write_pre_versioning_store(db, "old-secret-" + "s" * 40, "0" * 64)
    program = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from ttsign.store.sqlite import SqliteKeyStore\n"
        "store = SqliteKeyStore(Path(sys.argv[1]))\n"
        "print(store.schema_version, asyncio.run(store.secret('jwt', lambda: 'new')))\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", program, str(db)], stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    outputs = [worker.communicate(timeout=60)[0].split() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    assert outputs == [[str(VERSION), "old-secret-" + "s" * 40]] * 4
    assert secret_path(db, "jwt").read_text() == "old-secret-" + "s" * 40
