"""What the store keeps about API keys, and the one small interface every backend implements.

Keys are kept hashed: the store never sees a plaintext key, only its SHA-256. A key carries 256 bits of
randomness, so a fast hash is enough (there is nothing to brute-force); lookups are by that hash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Limits:
    """Requests allowed per window; None means unlimited for that window."""

    per_minute: int | None = None
    per_hour: int | None = None
    per_day: int | None = None
    rooms_per_hour: int | None = None  # distinct rooms one key may connect to per hour (abuse control)

    def windows(self) -> list[tuple[str, int]]:
        """(label, limit) for each limited window, shortest first; labels match Euler's `limit_label`."""
        pairs = [("minute", self.per_minute), ("hour", self.per_hour), ("day", self.per_day)]
        return [(label, limit) for label, limit in pairs if limit is not None]


@dataclass(frozen=True)
class KeyRecord:
    key_id: str  # public identifier, safe to log and show
    key_hash: str  # sha256 hex of the plaintext key
    name: str
    created_at: float
    limits: Limits = field(default_factory=Limits)
    revoked_at: float | None = None
    chat_enabled: bool = False
    session_forwarding: bool = False

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyNotFoundError(LookupError):
    """No key with that id."""


class KeyStore(Protocol):
    async def add(self, record: KeyRecord) -> None: ...

    async def by_hash(self, key_hash: str) -> KeyRecord | None: ...

    async def by_id(self, key_id: str) -> KeyRecord | None: ...

    async def all(self) -> list[KeyRecord]: ...

    async def replace(self, record: KeyRecord) -> None:
        """Overwrite the record with the same key_id; KeyNotFoundError if there is none."""
        ...

    async def secret(self, name: str, make: Callable[[], str]) -> str:
        """A server-wide secret (e.g. the JWT key): created once by `make`, then the same for every replica."""
        ...

    async def close(self) -> None: ...
