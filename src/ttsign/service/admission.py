"""Who may do what, how often: credentials, per-IP/per-key/anonymous limits, JWT scope, distinct-room caps.

Runs before any signing or upstream work. The answer is a value: Admitted (with the limit state for the
success headers) or Denied (status, reason, message and retry timing), which each API dialect renders in
the shape its clients understand.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ttsign.service.jwt_auth import JwtAuthority, JwtError, JwtGrant
from ttsign.service.keys import KeyService
from ttsign.service.limits import Decision, RateLimiter, WindowState
from ttsign.store.base import KeyRecord, Limits


@dataclass(frozen=True)
class AccessPolicy:
    allow_anonymous: bool = True
    anonymous_limits: Limits = field(default_factory=lambda: Limits(per_minute=10, per_hour=60, per_day=300))
    per_ip_limits: Limits = field(default_factory=lambda: Limits(per_minute=120, per_hour=2000))
    default_key_limits: Limits = field(default_factory=lambda: Limits(per_minute=60, per_hour=1000, per_day=10000))
    anonymous_rooms_per_hour: int | None = 4


@dataclass(frozen=True)
class Credentials:
    api_key: str = field(default="", repr=False)
    jwt: str = field(default="", repr=False)


@dataclass(frozen=True)
class Caller:
    ip: str
    key: KeyRecord | None = None
    grant: JwtGrant | None = None

    @property
    def label(self) -> str:
        """Safe to log: the key id, never the key."""
        return f"key:{self.key.key_id}" if self.key else f"anon:{self.ip}"


@dataclass(frozen=True)
class Admitted:
    caller: Caller
    limit: WindowState | None  # the window with the fewest requests left, for X-RateLimit-* headers


@dataclass(frozen=True)
class Denied:
    status: int  # 401 unauthenticated, 403 out of scope, 429 over a limit
    reason: str
    message: str
    limit_label: str | None = None  # minute | hour | day | rooms | connections
    retry_after_s: int = 0
    reset_at: int = 0  # unix seconds


_PRUNE_AT = 10_000  # entries before expired ones are swept out of the in-process tables


class RoomCap:
    """Distinct rooms per subject per hour (an abuse control: one key fanning out over many rooms)."""

    def __init__(self, clock: Callable[[], float] = time.time, window_s: float = 3600.0) -> None:
        self._clock = clock
        self._window = window_s
        self._rooms: dict[str, dict[str, float]] = {}

    def admit(self, subject: str, room: str, cap: int) -> tuple[bool, float]:
        """(allowed, when the oldest room frees up)."""
        now = self._clock()
        if len(self._rooms) > _PRUNE_AT:
            self._rooms = {s: r for s, r in self._rooms.items() if any(now - t < self._window for t in r.values())}
        rooms = {r: t for r, t in self._rooms.get(subject, {}).items() if now - t < self._window}
        if room in rooms or len(rooms) < cap:
            rooms[room] = rooms.get(room, now)
            self._rooms[subject] = rooms
            return True, 0.0
        self._rooms[subject] = rooms
        return False, min(rooms.values()) + self._window


class Admission:
    def __init__(
        self,
        keys: KeyService,
        limiter: RateLimiter,
        *,
        policy: AccessPolicy | None = None,
        jwt: JwtAuthority | Callable[[], Awaitable[JwtAuthority]] | None = None,
        rooms: RoomCap | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.limiter = limiter
        self.policy = policy or AccessPolicy()
        # An authority, or how to make one on first use (its secret may live in the store).
        self._jwt = jwt
        self.rooms = rooms or RoomCap(clock)
        self._clock = clock
        self._jwt_uses: dict[str, tuple[int, int]] = {}  # token id -> (connects made, token expiry)

    async def identify(self, credentials: Credentials, ip: str) -> Caller | Denied:
        if credentials.jwt:
            return await self._identify_jwt(credentials.jwt, ip)
        if credentials.api_key:
            record = await self.keys.authenticate(credentials.api_key)
            if record is None:
                return Denied(401, "invalid_api_key", "the API key is unknown or has been revoked")
            return Caller(ip, key=record)
        if not self.policy.allow_anonymous:
            return Denied(401, "api_key_required", "this server requires an API key (X-Api-Key header or apiKey=)")
        return Caller(ip)

    async def jwt_authority(self) -> JwtAuthority | None:
        if self._jwt is None or isinstance(self._jwt, JwtAuthority):
            return self._jwt
        self._jwt = await self._jwt()
        return self._jwt

    async def _identify_jwt(self, token: str, ip: str) -> Caller | Denied:
        authority = await self.jwt_authority()
        if authority is None:
            return Denied(401, "jwt_not_enabled", "this server does not accept x-jwt-key tokens")
        try:
            grant = authority.verify(token)
        except JwtError as exc:
            return Denied(401, "invalid_jwt", str(exc))
        record = await self.keys.store.by_id(grant.key_id)
        if record is None or not record.active:
            return Denied(401, "invalid_jwt", "the key this token was issued for has been revoked")
        return Caller(ip, key=record, grant=grant)

    async def admit(
        self, credentials: Credentials, ip: str, *, room_id: str | None = None, unique_id: str | None = None
    ) -> Admitted | Denied:
        """Authenticate, check scope, then count the request against every limit that applies."""
        caller = await self.identify(credentials, ip)
        if isinstance(caller, Denied):
            return caller
        scoped = self._check_grant(caller, room_id=room_id, unique_id=unique_id)
        if scoped is not None:
            return scoped
        ip_decision = await self.limiter.hit(f"ip:{ip}", self.policy.per_ip_limits.windows())
        if not ip_decision.allowed:
            return self._over_limit(ip_decision, "too many requests from this address")
        limits = self.limits_of(caller)
        decision = await self.limiter.hit(caller.label, limits.windows())
        if not decision.allowed:
            return self._over_limit(decision, "too many requests for this key" if caller.key else "anonymous limit")
        capped = self._check_rooms(caller, limits, room_id)
        if capped is not None:
            return capped
        return Admitted(caller, decision.tightest or ip_decision.tightest)

    def limits_of(self, caller: Caller) -> Limits:
        if caller.key is None:
            return Limits(
                per_minute=self.policy.anonymous_limits.per_minute,
                per_hour=self.policy.anonymous_limits.per_hour,
                per_day=self.policy.anonymous_limits.per_day,
                rooms_per_hour=self.policy.anonymous_rooms_per_hour,
            )
        return caller.key.limits if caller.key.limits.windows() else self.policy.default_key_limits

    def _check_grant(self, caller: Caller, *, room_id: str | None, unique_id: str | None) -> Denied | None:
        grant = caller.grant
        if grant is None:
            return None
        if (room_id or unique_id) and not grant.allows_creator(unique_id=unique_id, room_id=room_id):
            return Denied(403, "creator_not_allowed", "this token is not scoped to that creator")
        if grant.max_connections is not None:
            used = self._jwt_uses.get(grant.token_id, (0, grant.expires_at))[0]
            if used >= grant.max_connections:
                return Denied(429, "token_exhausted", "this token has made all its connections", "connections")
            if len(self._jwt_uses) > _PRUNE_AT:
                now = self._clock()
                self._jwt_uses = {t: u for t, u in self._jwt_uses.items() if u[1] > now}
            self._jwt_uses[grant.token_id] = (used + 1, grant.expires_at)
        return None

    def _check_rooms(self, caller: Caller, limits: Limits, room_id: str | None) -> Denied | None:
        if room_id is None or limits.rooms_per_hour is None:
            return None
        allowed, frees_at = self.rooms.admit(caller.label, room_id, limits.rooms_per_hour)
        if allowed:
            return None
        now = self._clock()
        return Denied(
            429,
            "too_many_rooms",
            f"at most {limits.rooms_per_hour} distinct rooms per hour",
            "rooms",
            retry_after_s=max(1, math.ceil(frees_at - now)),
            reset_at=math.ceil(frees_at),
        )

    def _over_limit(self, decision: Decision, message: str) -> Denied:
        window = decision.refused_by
        assert window is not None
        return Denied(
            429,
            "rate_limited",
            f"{message}: {window.limit} per {window.label}",
            window.label,
            retry_after_s=decision.retry_after_s(self._clock()),
            reset_at=math.ceil(window.reset_at),
        )
