"""Files only the server's own user may read: the SQLite store (with its -wal/-shm) and the secrets beside it.

Private from the first byte, whatever the process umask: SQLite creates a database's -wal, -shm and journal
with the database file's own mode, so a database file created 0600 keeps them 0600 too. Chmod after the
fact is not enough: the -wal is written (and readable) between the open and the chmod.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


class SecretFileError(RuntimeError):
    """A secret file exists but holds nothing usable."""


def private_directory(path: Path) -> None:
    """Create `path` 0700 (missing parents as usual). An existing directory keeps its mode: it may be shared."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIRECTORY_MODE)
    except FileExistsError:  # another process made it first: its mode is its creator's choice
        return
    os.chmod(path, DIRECTORY_MODE)  # mkdir's mode passes through the umask; say exactly what we mean


def private_database(path: Path) -> None:
    """Create the database file 0600 if missing; make it and any -wal/-shm/-journal left by an older run 0600."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for suffix in SQLITE_SIDECARS:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(path.name + suffix), FILE_MODE, follow_symlinks=False)


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in `path`; on first use `make` creates it, complete and 0600, in one atomic step.

    The value is written to a private temporary file and hard-linked into place: the link fails when the
    file exists, so processes racing to create it all end up reading the one that won, never a partial one.
    """
    with contextlib.suppress(FileNotFoundError):
        return _read_secret(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(make())
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, encoding="utf-8") as file:
        value = file.read().strip()
    if not value:
        raise SecretFileError(f"{path} is empty: delete it to have a new secret generated")
    return value
