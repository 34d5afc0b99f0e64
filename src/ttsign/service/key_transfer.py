"""Moving API keys between stores (`ttsign keys export` / `import`, e.g. from SQLite to Redis).

Keys stay hashed: an export carries each key's SHA-256 and its settings, never a plaintext key (the store
has none), so an exported file lets nobody call the API. It is still an inventory of the keys: keep it private.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ttsign.store.base import KeyRecord, KeyStore, Limits

EXPORT_FORMAT = "ttsign-keys"
EXPORT_VERSION = 1


class KeyImportError(ValueError):
    """The file is not a ttsign key export (or holds a key that is not well-formed)."""


def iso_time(timestamp: float) -> str:
    """Unix seconds as ISO-8601 in UTC, to the microsecond (what the CLI shows and an export carries)."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_minute: int | None = Field(default=None, ge=1)
    per_hour: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)
    rooms_per_hour: int | None = Field(default=None, ge=1)


class _ExportedKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key_id: str = Field(pattern=r"^[0-9a-f]{8}$")
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str = Field(max_length=200)
    created_at: datetime
    revoked_at: datetime | None = None
    limits: _Limits = Field(default_factory=_Limits)
    chat_enabled: bool = False
    session_forwarding: bool = False

    def record(self) -> KeyRecord:
        return KeyRecord(
            key_id=self.key_id,
            key_hash=self.key_hash,
            name=self.name,
            created_at=self.created_at.timestamp(),
            revoked_at=None if self.revoked_at is None else self.revoked_at.timestamp(),
            limits=Limits(**self.limits.model_dump()),
            chat_enabled=self.chat_enabled,
            session_forwarding=self.session_forwarding,
        )


class _Export(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["ttsign-keys"]
    version: Literal[1]
    keys: list[_ExportedKey]


def export_document(records: list[KeyRecord]) -> dict[str, Any]:
    """The export of `records`: JSON-ready, hashes and settings only."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "keys": [
            {
                "key_id": record.key_id,
                "key_hash": record.key_hash,
                "name": record.name,
                "created_at": iso_time(record.created_at),
                "revoked_at": None if record.revoked_at is None else iso_time(record.revoked_at),
                "limits": {
                    "per_minute": record.limits.per_minute,
                    "per_hour": record.limits.per_hour,
                    "per_day": record.limits.per_day,
                    "rooms_per_hour": record.limits.rooms_per_hour,
                },
                "chat_enabled": record.chat_enabled,
                "session_forwarding": record.session_forwarding,
            }
            for record in records
        ],
    }


def parse_export(text: str) -> list[KeyRecord]:
    """The records of an export; KeyImportError says what is wrong (never echoing the file's content)."""
    try:
        document = _Export.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise KeyImportError(f"not JSON (line {exc.lineno}, column {exc.colno})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise KeyImportError(f"not a ttsign key export: {where}: {first['msg']}") from None
    return [key.record() for key in document.keys]


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # key ids the target store already holds

    def as_dict(self) -> dict[str, Any]:
        return {"imported": len(self.imported), "skipped": self.skipped}


async def import_records(store: KeyStore, records: list[KeyRecord]) -> ImportReport:
    """Add each record; a key id (or hash) the store already has is left as it is and reported as skipped,
    so running the same import twice changes nothing."""
    report = ImportReport()
    for record in records:
        if await store.by_id(record.key_id) is not None or await store.by_hash(record.key_hash) is not None:
            report.skipped.append(record.key_id)
            continue
        await store.add(record)
        report.imported.append(record.key_id)
    return report
