"""API keys: issue (plaintext shown once), authenticate, revoke, set limits. Framework-free."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from ttsign.store.base import KeyNotFoundError, KeyRecord, KeyStore, Limits, StoreUnavailable

KEY_PREFIX = "tts_"
LIMIT_WINDOWS = ("per_minute", "per_hour", "per_day", "rooms_per_hour")  # the fields of Limits
Clock = Callable[[], float]


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def looks_like_key(plaintext: str) -> bool:
    return plaintext.startswith(KEY_PREFIX) and 20 <= len(plaintext) <= 128 and plaintext.isascii()


class KeyService:
    """Keys by hash, with a short cache so a hot key costs no store round trip per request.

    A revocation is seen by every process within `cache_ttl_s` (1 s by default).
    """

    def __init__(self, store: KeyStore, *, clock: Clock = time.time, cache_ttl_s: float = 1.0) -> None:
        self.store = store
        self._clock = clock
        self._ttl = cache_ttl_s
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}

    async def create(
        self, name: str, limits: Limits | None = None, *, chat_enabled: bool = False
    ) -> tuple[KeyRecord, str]:
        """A new key; the plaintext is returned once and never stored."""
        key_id = secrets.token_hex(4)
        plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = KeyRecord(
            key_id=key_id,
            key_hash=hash_key(plaintext),
            name=name,
            created_at=self._clock(),
            limits=limits or Limits(),
            chat_enabled=chat_enabled,
        )
        await self.store.add(record)
        return record, plaintext

    async def authenticate(self, plaintext: str, *, stale_ok: bool = False, offline: bool = False) -> KeyRecord | None:
        """The active record for a presented key, or None (unknown, malformed or revoked).

        Raises StoreUnavailable when the store does not answer (or, `offline`, is known to be down),
        unless `stale_ok` and this process has seen the key before: then the last record it read stands
        in (the fail-open mode).
        """
        if not looks_like_key(plaintext):
            return None
        digest = hash_key(plaintext)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self._ttl:
            record = cached[1]
        else:
            try:
                if offline:
                    raise StoreUnavailable("store marked down")
                record = await self.store.by_hash(digest)
            except StoreUnavailable:
                if not stale_ok or cached is None:
                    raise
                record = cached[1]
            else:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now, record)
        if record is None or not record.active or not hmac.compare_digest(record.key_hash, digest):
            return None
        return record

    async def get(self, key_id: str) -> KeyRecord:
        record = await self.store.by_id(key_id)
        if record is None:
            raise KeyNotFoundError(key_id)
        return record

    async def list(self) -> list[KeyRecord]:
        return await self.store.all()

    async def revoke(self, key_id: str) -> KeyRecord:
        record = await self.get(key_id)
        if record.revoked_at is None:
            record = replace(record, revoked_at=self._clock())
            await self.store.replace(record)
        return record

    async def update(
        self,
        key_id: str,
        *,
        limits: Limits | None = None,
        limit_changes: Mapping[str, int] | None = None,
        chat_enabled: bool | None = None,
    ) -> KeyRecord:
        """Replace the key's `limits` whole, or change only the windows named in `limit_changes` (the others
        keep their current value); `chat_enabled` when given."""
        record = await self.get(key_id)
        if limits is not None:
            record = replace(record, limits=limits)
        if limit_changes:
            unknown = set(limit_changes) - set(LIMIT_WINDOWS)
            if unknown:
                raise ValueError(f"unknown limit window(s): {', '.join(sorted(unknown))}")
            record = replace(record, limits=replace(record.limits, **limit_changes))
        if chat_enabled is not None:
            record = replace(record, chat_enabled=chat_enabled)
        await self.store.replace(record)
        return record
