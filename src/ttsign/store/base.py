"""What the store keeps about API keys, and the one small interface every backend implements.

Keys are kept hashed: the store never sees a plaintext key, only its SHA-256. A key carries 256 bits of
randomness, so a fast hash is enough (there is nothing to brute-force); lookups are by that hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol


@dataclass(frozen=True)
class Limits:
    """Requests allowed per window; None means unlimited for that window (for a key's stored limits: the
    server's default for that window, see `over`)."""

    per_minute: int | None = None
    per_hour: int | None = None
    per_day: int | None = None
    rooms_per_hour: int | None = None  # distinct rooms one key may connect to per hour (abuse control)

    def windows(self) -> tuple[tuple[str, int], ...]:
        """(label, limit) for each limited window, shortest first; labels match Euler's `limit_label`."""
        return _windows(self.per_minute, self.per_hour, self.per_day)

    def over(self, defaults: Limits) -> Limits:
        """These limits with each unset request window taken from `defaults` (a key's omitted windows follow
        the server's defaults, window by window). The room cap is the key's own: it has no server default."""
        return _over(self, defaults)


@lru_cache(maxsize=1024)  # asked on every keyed request, for a handful of distinct pairs
def _over(limits: Limits, defaults: Limits) -> Limits:
    return Limits(
        per_minute=defaults.per_minute if limits.per_minute is None else limits.per_minute,
        per_hour=defaults.per_hour if limits.per_hour is None else limits.per_hour,
        per_day=defaults.per_day if limits.per_day is None else limits.per_day,
        rooms_per_hour=limits.rooms_per_hour,
    )


@lru_cache(maxsize=1024)  # twice per connect (the identity breakers), for a handful of profiles
def slot_digest(slot: str) -> str:
    """An identity slot (profile name + User-Agent) as a short printable digest: the key the shared
    identity store files it under and the identity breakers count it under, so replicas name it alike."""
    return hashlib.sha256(slot.encode("utf-8")).hexdigest()[:32]


@lru_cache(maxsize=1024)  # asked on every request, for a handful of distinct limit sets
def _windows(per_minute: int | None, per_hour: int | None, per_day: int | None) -> tuple[tuple[str, int], ...]:
    pairs = (("minute", per_minute), ("hour", per_hour), ("day", per_day))
    return tuple((label, limit) for label, limit in pairs if limit is not None)


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

    async def forget_secret(self, name: str) -> None:
        """Drop a generated secret that a configured one replaces, so no stale copy stays readable."""
        ...

    async def close(self) -> None: ...


class StoreUnavailable(RuntimeError):
    """The shared store (Redis) did not answer in time; the caller decides whether to fail open or closed."""


class WindowBatch(Protocol):
    """Counts one request in several fixed rate-limit windows in a single round trip (a shared store's fast
    path; `limits` itself has none)."""

    async def hit(self, counters: Sequence[tuple[str, int, int]]) -> list[tuple[int, float]]:
        """For each (limits key, limit, expiry seconds) in order, add one and give (count, seconds until the
        window resets); stop after the first count over its limit. Raises StoreUnavailable."""
        ...


class RoomLedger(Protocol):
    """Distinct rooms per subject over a sliding window (the abuse control on fan-out over many rooms)."""

    async def admit(self, subject: str, room: str, cap: int, now: float) -> tuple[bool, float]:
        """(allowed, unix time the oldest room frees up when refused; 0.0 when allowed)."""
        ...


class ConnectCounter(Protocol):
    """Connections made with one short-lived token (JWT `maxWebSockets`), counted until the token expires."""

    async def take(self, token_id: str, limit: int, expires_at: int) -> bool:
        """Count one connection; False (and nothing counted) once `limit` were made."""
        ...


@dataclass(frozen=True)
class IdentityRecord:
    """What replicas share about a TikTok identity: enough to use it, no client secret, cookies included.

    `cookies` are secrets (ttwid, msToken): never log them; `repr` leaves them out.
    """

    identity_id: str  # opaque, safe to log
    device_id: str
    profile_name: str
    user_agent: str
    cookies: dict[str, str] = field(repr=False)
    created_at: float  # unix seconds (wall clock: replicas compare it)
    retired: bool = False  # TikTok refused it: nobody uses it again, a fresh one replaces it
    rotated_at: float = 0.0  # unix seconds TikTok last rotated its msToken or ttwid (0: never since bootstrap)


class IdentityShelf(Protocol):
    """Identities shared between replicas, one slot per browser profile."""

    async def load(self, slot: str) -> IdentityRecord | None:
        """The slot's identity (possibly retired); None when the slot is empty or expired."""
        ...

    async def save(self, slot: str, record: IdentityRecord, ttl_s: float) -> None: ...

    async def update_cookies(self, slot: str, record: IdentityRecord) -> bool:
        """Store the record's cookies and `rotated_at` if the slot still holds this identity, live, and an
        older rotation; False (nothing written) otherwise. Never recreates an expired or retired record."""
        ...

    async def retire(self, slot: str, identity_id: str) -> None:
        """Drop the slot's identity if it is still this one (a newer one stays)."""
        ...

    async def try_lock(self, slot: str, ttl_s: float) -> str | None:
        """A token when this caller may bootstrap the slot's identity, None while another replica does."""
        ...

    async def unlock(self, slot: str, token: str) -> None: ...


@dataclass(frozen=True)
class BreakerEvent:
    """A circuit breaker opened (until `reopens_at`, unix seconds) or closed (`reopens_at` None) somewhere.

    `key` is the breaker's key as the board knows it: a room id or label, or an identity slot's digest,
    never a secret. `origin` names the replica that published it ("" when read back from the open list).
    """

    scope: str
    key: str
    reopens_at: float | None
    origin: str = ""


class BreakerExchange(Protocol):
    """Circuit-breaker transitions shared between replicas (publish, and listen to everyone's)."""

    async def publish(self, event: BreakerEvent) -> None:
        """Tell every replica (and remember an open breaker until it reopens); StoreUnavailable if down."""
        ...

    def listen(self) -> AsyncGenerator[BreakerEvent | None, None]:
        """The breakers open now, then None (caught up), then every event published from then on.

        Ends with StoreUnavailable when the connection drops; listen again to resume.
        """
        ...
