"""An in-process key store: zero setup, gone on restart. For tests and throwaway servers."""

from __future__ import annotations

from collections.abc import Callable

from ttsign.store.base import KeyNotFoundError, KeyRecord


class MemoryKeyStore:
    def __init__(self) -> None:
        self._by_id: dict[str, KeyRecord] = {}
        self._secrets: dict[str, str] = {}

    async def add(self, record: KeyRecord) -> None:
        if record.key_id in self._by_id:
            raise ValueError(f"key id {record.key_id} exists")
        self._by_id[record.key_id] = record

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        return next((r for r in self._by_id.values() if r.key_hash == key_hash), None)

    async def by_id(self, key_id: str) -> KeyRecord | None:
        return self._by_id.get(key_id)

    async def all(self) -> list[KeyRecord]:
        return sorted(self._by_id.values(), key=lambda r: r.created_at)

    async def replace(self, record: KeyRecord) -> None:
        if record.key_id not in self._by_id:
            raise KeyNotFoundError(record.key_id)
        self._by_id[record.key_id] = record

    async def secret(self, name: str, make: Callable[[], str]) -> str:
        return self._secrets.setdefault(name, make())

    async def close(self) -> None:
        return None
