"""`ttsign keys ...`: API keys in the configured store (SQLite file or Redis), plaintext shown once.

Every command says on stderr which store it used (the SQLite path, or the Redis URL without its password),
so stdout stays the JSON or table it prints.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer
from rich.console import Console
from rich.table import Column, Table

if TYPE_CHECKING:
    from ttsign.config import Settings
    from ttsign.service.keys import KeyService
    from ttsign.store.base import KeyRecord, KeyStore

T = TypeVar("T")

keys_app = typer.Typer(help="API keys in the store (plaintext shown once, kept hashed).", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PerMinute = Annotated[int | None, typer.Option(min=1, help="Requests per minute.")]
PerHour = Annotated[int | None, typer.Option(min=1, help="Requests per hour.")]
PerDay = Annotated[int | None, typer.Option(min=1, help="Requests per day.")]
RoomsPerHour = Annotated[int | None, typer.Option(min=1, help="Distinct rooms per hour (default: no cap).")]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def store_description(settings: Settings) -> str:
    """Which store the settings name, safe to print: a Redis URL loses its password."""
    if settings.redis_url is None:
        return f"sqlite:{settings.store_path}"
    parts = urlsplit(settings.redis_url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _settings() -> Settings:
    from ttsign.config import ConfigFileError, Settings

    try:
        return Settings()
    except (ConfigFileError, ValueError) as exc:
        fail(f"invalid configuration: {exc}")


def _open(settings: Settings) -> KeyStore:
    from ttsign.store.backends import open_key_store
    from ttsign.store.sqlite_schema import SchemaTooNewError

    try:
        store = open_key_store(
            store_path=settings.store_path,
            redis_url=settings.redis_url,
            prefix=settings.redis_key_prefix,
            timeout_s=settings.redis_timeout_s,
        )
    except (SchemaTooNewError, ValueError, OSError) as exc:
        fail(f"cannot open the store {store_description(settings)}: {exc}")
    err.print(f"store: {store_description(settings)}", markup=False)
    return store


def _run(store: KeyStore, action: Callable[[KeyStore], Awaitable[T]]) -> T:
    """Run one action against `store`, closing it afterwards; store errors become one line on stderr."""
    from ttsign.store.base import KeyNotFoundError, StoreUnavailable

    async def run() -> T:
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except KeyNotFoundError as exc:
        fail(f"no key with id {exc}")
    except StoreUnavailable as exc:
        fail(f"the store is unreachable: {exc}", 1)


def _keys_call(action: Callable[[KeyService], Awaitable[T]]) -> tuple[T, Settings]:
    from ttsign.service.keys import KeyService

    settings = _settings()
    return _run(_open(settings), lambda store: action(KeyService(store))), settings


def _key_row(record: KeyRecord, settings: Settings) -> dict[str, object]:
    from ttsign.service.key_transfer import iso_time
    from ttsign.store.base import Limits

    defaults = Limits(settings.key_per_minute, settings.key_per_hour, settings.key_per_day)
    return {
        "key_id": record.key_id,
        "name": record.name,
        "created_at": iso_time(record.created_at),
        "revoked": record.revoked_at is not None,
        "revoked_at": None if record.revoked_at is None else iso_time(record.revoked_at),
        "limits": {k: v for k, v in dataclasses.asdict(record.limits).items() if v is not None},
        # What the server enforces: a window the key does not set follows the server's default.
        "effective_limits": dataclasses.asdict(record.limits.over(defaults)),
        "chat_enabled": record.chat_enabled,
    }


def _print_json(document: object) -> None:
    out.print(json.dumps(document, indent=2), markup=False)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    per_minute: PerMinute = None,
    per_hour: PerHour = None,
    per_day: PerDay = None,
    rooms_per_hour: RoomsPerHour = None,
    chat: Annotated[bool, typer.Option(help="Allow this key to use the chat routes.")] = False,
) -> None:
    """Create a key; its plaintext is printed once and never stored. A window not given follows the
    server's default for it (TTSIGN_KEY_PER_MINUTE/HOUR/DAY)."""
    from ttsign.store.base import Limits

    limits = Limits(per_minute, per_hour, per_day, rooms_per_hour)
    (record, plaintext), settings = _keys_call(lambda keys: keys.create(name, limits, chat_enabled=chat))
    _print_json({**_key_row(record, settings), "api_key": plaintext})
    err.print("Store the api_key now: ttsign keeps only its hash.", markup=False)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as a JSON array.")] = False,
) -> None:
    """List keys (ids and limits; never the keys)."""
    records, settings = _keys_call(lambda keys: keys.list())
    rows = [_key_row(record, settings) for record in records]
    if as_json:
        _print_json(rows)
        return
    table = Table(Column("key_id", no_wrap=True), "name", Column("created_at", no_wrap=True), "revoked")
    table.add_column("limits (effective)")
    table.add_column("chat")
    for row in rows:
        effective = row["effective_limits"]
        assert isinstance(effective, dict)
        limits = ", ".join(f"{window}={value}" for window, value in effective.items() if value is not None)
        cells = (row["key_id"], row["name"], row["created_at"], row["revoked"], limits, row["chat_enabled"])
        table.add_row(*map(str, cells))
    out.print(table)


@keys_app.command("show")
def keys_show(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """One key's settings."""
    record, settings = _keys_call(lambda keys: keys.get(key_id))
    _print_json(_key_row(record, settings))


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key (every server refuses it within a second)."""
    record, settings = _keys_call(lambda keys: keys.revoke(key_id))
    _print_json(_key_row(record, settings))


@keys_app.command("set-limits")
def keys_set_limits(
    key_id: Annotated[str, typer.Argument(help="The key's id.")],
    per_minute: PerMinute = None,
    per_hour: PerHour = None,
    per_day: PerDay = None,
    rooms_per_hour: RoomsPerHour = None,
    chat: Annotated[bool | None, typer.Option("--chat/--no-chat", help="Allow the chat routes.")] = None,
) -> None:
    """Change the windows given; every window not given keeps its current value."""
    given = {"per_minute": per_minute, "per_hour": per_hour, "per_day": per_day, "rooms_per_hour": rooms_per_hour}
    changes = {window: value for window, value in given.items() if value is not None}
    record, settings = _keys_call(lambda keys: keys.update(key_id, limit_changes=changes, chat_enabled=chat))
    _print_json(_key_row(record, settings))


@keys_app.command("export")
def keys_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (created 0600) instead of stdout.")
    ] = None,
) -> None:
    """Export every key as JSON: hashes and settings, never a plaintext key (the store has none)."""
    from ttsign.service.key_transfer import export_document

    settings = _settings()
    records = _run(_open(settings), lambda store: store.all())
    text = json.dumps(export_document(records), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_TRUNC: narrow it first
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
    err.print(f"exported {len(records)} key(s)", markup=False)


@keys_app.command("import")
def keys_import(
    source: Annotated[
        Path | None, typer.Argument(help="An export file (`ttsign keys export`); `-` reads stdin.")
    ] = None,
    from_sqlite: Annotated[
        Path | None,
        typer.Option(help="Read the keys straight from this SQLite store file instead (e.g. to move to Redis)."),
    ] = None,
) -> None:
    """Add keys to the configured store (set TTSIGN_REDIS_URL to move them to Redis). Keys it already holds
    are skipped, so importing twice changes nothing."""
    from ttsign.service.key_transfer import import_records

    records = _records_to_import(source, from_sqlite)
    settings = _settings()
    report = _run(_open(settings), lambda store: import_records(store, records))
    _print_json(report.as_dict())


def _records_to_import(source: Path | None, from_sqlite: Path | None) -> list[KeyRecord]:
    from ttsign.service.key_transfer import KeyImportError, parse_export
    from ttsign.store.sqlite import SqliteKeyStore
    from ttsign.store.sqlite_schema import SchemaTooNewError

    if (source is None) == (from_sqlite is None):
        fail("give an export file (or - for stdin) or --from-sqlite PATH, one of them")
    if from_sqlite is not None:
        if not from_sqlite.is_file():
            fail(f"{from_sqlite}: no such file")
        try:
            return _run(SqliteKeyStore(from_sqlite), lambda store: store.all())
        except SchemaTooNewError as exc:
            fail(str(exc))
    assert source is not None
    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
        return parse_export(text)
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}")
    except (KeyImportError, UnicodeDecodeError) as exc:
        fail(f"{source}: {exc}")
