"""Who may do what, how often: credentials, per-IP/per-key/anonymous limits, JWT scope, distinct-room caps.

Runs before any signing or upstream work. The answer is a value: Admitted (with the limit state for the
success headers) or Denied (status, reason, message and retry timing), which each API dialect renders in
the shape its clients understand.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from ttsign.service.auth_failures import REASON as AUTH_FAILURES
from ttsign.service.auth_failures import AuthFailures
from ttsign.service.jwt_auth import JwtAuthority, JwtError, JwtGrant
from ttsign.service.keys import KeyService
from ttsign.service.limits import Decision, Group, RateLimiter, WindowState
from ttsign.service.scope import CreatorScope, ServedRoom, room_of_url, served_room
from ttsign.store.base import ConnectCounter, KeyRecord, Limits, RoomLedger, StoreUnavailable
from ttsign.store.memory import MemoryConnectCounter, MemoryRoomLedger

logger = logging.getLogger(__name__)

FailureMode = Literal["closed", "open"]


@dataclass(frozen=True)
class AccessPolicy:
    allow_anonymous: bool = True
    anonymous_limits: Limits = field(default_factory=lambda: Limits(per_minute=10, per_hour=60, per_day=300))
    per_ip_limits: Limits = field(default_factory=lambda: Limits(per_minute=120, per_hour=2000))
    default_key_limits: Limits = field(default_factory=lambda: Limits(per_minute=60, per_hour=1000, per_day=10000))
    anonymous_rooms_per_hour: int | None = 4
    # Wrong keys and bad tokens one address may send before it is refused without a check.
    auth_failure_limits: Limits = field(default_factory=lambda: Limits(per_minute=10, per_hour=50))
    # When the shared store (Redis) is unreachable: "closed" refuses with 503, "open" admits and logs.
    store_failure_mode: FailureMode = "closed"


@dataclass(frozen=True)
class Credentials:
    api_key: str = field(default="", repr=False)
    jwt: str = field(default="", repr=False)


@dataclass(frozen=True)
class Caller:
    ip: str
    key: KeyRecord | None = None
    grant: JwtGrant | None = None
    # Safe to log: the key id, never the key. Made once: every limit, ledger and usage count keys on it.
    label: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"key:{self.key.key_id}" if self.key else f"anon:{self.ip}")


@lru_cache(maxsize=4096)
def _anonymous(ip: str) -> Caller:
    """An anonymous caller: one immutable value per address while it keeps calling, not one per request."""
    return Caller(ip)


@dataclass(frozen=True)
class Admitted:
    caller: Caller
    limit: WindowState | None  # the window with the fewest requests left, for X-RateLimit-* headers


@dataclass(frozen=True)
class Denied:
    status: int  # 401 unauthenticated, 403 out of scope, 429 over a limit, 503 store unreachable
    reason: str
    message: str
    limit_label: str | None = None  # minute | hour | day | rooms | connections
    retry_after_s: int = 0
    reset_at: int = 0  # unix seconds


STORE_DOWN_MESSAGE = "the shared store (Redis) is unreachable; try again shortly"
_WARN_EVERY_S = 10.0  # outage warnings: one line per interval, not one per request
_HOLD_S = 1.0  # after a store failure, how long requests skip the store instead of each waiting on it


class StoreOutage:
    """What this process knows of the shared store's health.

    After a failure the store is treated as down for `hold_s`: requests meanwhile are answered at once
    (503, or without limits when failing open) instead of each waiting out a hung Redis's timeout. The
    first request after that probes the store again, so recovery needs nothing but Redis coming back.
    """

    def __init__(self, hold_s: float = _HOLD_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._hold_s = hold_s
        self._clock = clock
        self._down_until = float("-inf")
        self._warned_at = float("-inf")

    @property
    def down(self) -> bool:
        return self._clock() < self._down_until

    def failed(self, exc: StoreUnavailable, consequence: str) -> None:
        now = self._clock()
        self._down_until = now + self._hold_s
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            logger.warning("store unavailable: %s; %s", exc, consequence)


class Admission:
    def __init__(
        self,
        keys: KeyService,
        limiter: RateLimiter,
        *,
        policy: AccessPolicy | None = None,
        jwt: JwtAuthority | Callable[[], Awaitable[JwtAuthority]] | None = None,
        rooms: RoomLedger | None = None,
        connections: ConnectCounter | None = None,
        scope: CreatorScope | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.limiter = limiter
        self.policy = policy or AccessPolicy()
        self._anonymous_limits = replace(
            self.policy.anonymous_limits, rooms_per_hour=self.policy.anonymous_rooms_per_hour
        )
        # An authority, or how to make one on first use (its secret may live in the store).
        self._jwt = jwt
        self.rooms = rooms or MemoryRoomLedger()
        self.connections = connections or MemoryConnectCounter(clock)
        self.scope = scope or CreatorScope()
        self.failures = AuthFailures(limiter, self.policy.auth_failure_limits, clock=clock)
        self._clock = clock
        self.outage = StoreOutage()

    @property
    def fails_open(self) -> bool:
        return self.policy.store_failure_mode == "open"

    async def identify(self, credentials: Credentials, ip: str, *, offline: bool = False) -> Caller | Denied:
        """Who is calling. Raises StoreUnavailable when the store cannot say (even failing open, an
        unknown key cannot be told from a forged one). `offline`: the store is down, do not ask it.

        Failed credentials count against the address; past its limit it is refused (429) unchecked."""
        if not (credentials.jwt or credentials.api_key):
            if not self.policy.allow_anonymous:
                return Denied(401, "api_key_required", "this server requires an API key (X-Api-Key header or apiKey=)")
            return _anonymous(ip)
        blocked = self.failures.blocked_for(ip)
        if blocked:
            return self._auth_blocked(blocked)
        caller = await self._check_credentials(credentials, ip, offline=offline)
        if isinstance(caller, Denied) and caller.status == 401:
            blocked = await self.failures.record(ip)
            if blocked:
                return self._auth_blocked(blocked)
        return caller

    async def _check_credentials(self, credentials: Credentials, ip: str, *, offline: bool) -> Caller | Denied:
        if credentials.jwt:
            return await self._identify_jwt(credentials.jwt, ip, offline=offline)
        record = await self.keys.authenticate(credentials.api_key, stale_ok=self.fails_open, offline=offline)
        if record is None:
            return Denied(401, "invalid_api_key", "the API key is unknown or has been revoked")
        return Caller(ip, key=record)

    def _auth_blocked(self, retry_after_s: int) -> Denied:
        return Denied(
            429,
            AUTH_FAILURES,
            "too many failed keys or tokens from this address",
            "auth_failures",
            retry_after_s=retry_after_s,
            reset_at=math.ceil(self._clock()) + retry_after_s,
        )

    async def jwt_authority(self) -> JwtAuthority | None:
        if self._jwt is None or isinstance(self._jwt, JwtAuthority):
            return self._jwt
        self._jwt = await self._jwt()
        return self._jwt

    async def _identify_jwt(self, token: str, ip: str, *, offline: bool) -> Caller | Denied:
        authority = await self.jwt_authority()
        if authority is None:
            return Denied(401, "jwt_not_enabled", "this server does not accept x-jwt-key tokens")
        try:
            grant = authority.verify(token)
        except JwtError as exc:
            return Denied(401, "invalid_jwt", str(exc))
        if offline and self.fails_open:  # the store is down: not asked, no new failure recorded
            return Caller(ip, grant=grant)
        try:
            record = await self.keys.store.by_id(grant.key_id)
        except StoreUnavailable as exc:
            if not self.fails_open:
                raise
            # The token's signature and expiry were checked; only its key's revocation is unknown.
            self.outage.failed(exc, "failing open: tokens are not checked for revoked keys")
            return Caller(ip, grant=grant)
        if record is None or not record.active:
            return Denied(401, "invalid_jwt", "the key this token was issued for has been revoked")
        return Caller(ip, key=record, grant=grant)

    async def admit(
        self,
        credentials: Credentials,
        ip: str,
        *,
        room_id: str | None = None,
        unique_id: str | None = None,
        defer_scope: bool = False,
    ) -> Admitted | Denied:
        """Authenticate, count the request against every limit that applies, then check the token's scope
        against the room the request is served (`served_room`).

        `defer_scope`: the route learns its room only later (from a body or a URL) and must then call
        `check_scope`; otherwise a scoped token that names no room is refused here.
        A store outage is answered per `store_failure_mode`: Denied 503 `store_unavailable` when closed;
        when open the limits that could not be counted are skipped (a warning is logged).
        """
        offline = self.outage.down
        caller = await self._caller(credentials, ip, offline)
        if isinstance(caller, Denied):
            return caller
        room = served_room(room_id, unique_id)
        hint = unique_id if room.room_id is not None else None
        if offline:  # failing open while the store is down: nothing can be counted
            scoped = None if defer_scope else await self._scope_denial(caller, room, hint)
            return scoped or Admitted(caller, None)
        limits = self.limits_of(caller)
        # The address first: a caller over its address's limit does not spend its key's quota.
        decisions = await self._hit(
            [(f"ip:{ip}", self.policy.per_ip_limits.windows()), (caller.label, limits.windows())]
        )
        if isinstance(decisions, Denied):
            return decisions
        ip_decision = decisions[0]
        if not ip_decision.allowed:
            return self._over_limit(ip_decision, "too many requests from this address")
        decision = decisions[1]
        if not decision.allowed:
            return self._over_limit(decision, "too many requests for this key" if caller.key else "anonymous limit")
        # Scope after counting: an out-of-scope try costs the caller a request, and scope may need a lookup.
        scoped = None if defer_scope else await self._check_grant(caller, room, hint)
        if scoped is not None:
            return scoped
        capped = await self._check_rooms(caller, limits, room)
        if capped is not None:
            return capped
        return Admitted(caller, decision.tightest or ip_decision.tightest)

    async def _caller(self, credentials: Credentials, ip: str, offline: bool) -> Caller | Denied:
        """`identify`, with a store outage answered per `store_failure_mode` (503 when failing closed)."""
        if offline and not self.fails_open:
            return self._unavailable()
        try:
            return await self.identify(credentials, ip, offline=offline)
        except StoreUnavailable as exc:
            # Offline, the store was not asked: no new failure to hold on to (the hold must run out).
            return self._unavailable() if offline else self._store_down(exc)

    async def admit_account(self, credentials: Credentials, ip: str, *, count_key: bool) -> Admitted | Denied:
        """For the account routes (rate limits, token minting): authenticate and count the request against
        the address's limits (and the key's when `count_key`), so probing them costs like any request."""
        offline = self.outage.down
        caller = await self._caller(credentials, ip, offline)
        if isinstance(caller, Denied) or offline:
            return caller if isinstance(caller, Denied) else Admitted(caller, None)
        groups: list[Group] = [(f"ip:{ip}", self.policy.per_ip_limits.windows())]
        if count_key and caller.key is not None:
            groups.append((caller.label, self.limits_of(caller).windows()))
        decisions = await self._hit(groups)
        if isinstance(decisions, Denied):
            return decisions
        refused = next((d for d in decisions if not d.allowed), None)
        if refused is not None:
            return self._over_limit(refused, "too many requests")
        return Admitted(caller, None)

    async def check_scope(self, caller: Caller, *, room_id: str | None, unique_id: str | None = None) -> Denied | None:
        """The scope check of a route that learned its room after `admit(defer_scope=True)`."""
        room = served_room(room_id, unique_id)
        return await self._scope_denial(caller, room, unique_id if room.room_id is not None else None)

    async def _hit(self, groups: Sequence[Group]) -> list[Decision] | Denied:
        try:
            return await self.limiter.hit_many(groups)
        except StoreUnavailable as exc:
            if self.fails_open:
                self._failed_open(exc)
                return [Decision(True, subject) for subject, _ in groups]
            return self._store_down(exc)

    def _store_down(self, exc: StoreUnavailable) -> Denied:
        self.outage.failed(exc, "answering 503 store_unavailable (redis_failure_mode=closed)")
        return self._unavailable()

    @staticmethod
    def _unavailable() -> Denied:
        return Denied(503, "store_unavailable", STORE_DOWN_MESSAGE, retry_after_s=1)

    def _failed_open(self, exc: StoreUnavailable) -> None:
        self.outage.failed(exc, "failing open: limits, room caps and token counts are not enforced")

    def limits_of(self, caller: Caller) -> Limits:
        if caller.key is None:
            return self._anonymous_limits
        return caller.key.limits.over(self.policy.default_key_limits)

    async def check_url_scope(self, caller: Caller, url: str) -> Denied | None:
        """sign_url's scope check, on the URL as it will be signed: a scoped token signs only URLs for a
        room in its scope."""
        if caller.grant is None or caller.grant.allowed_creators is None:
            return None
        room = room_of_url(url)
        if room is None:
            return Denied(403, "creator_not_allowed", "the URL names several rooms")
        return await self._scope_denial(caller, room, None)

    async def admit_room(self, caller: Caller, room_id: str) -> Denied | None:
        """A connect to `room_id` by a caller already admitted (and counted) for this request, e.g. the legacy
        sign route turning into a connect: the token's scope and connection count and the caller's distinct-room
        cap, as `admit` applies them to a connect. Nothing is counted while the store is down (as `admit`)."""
        if self.outage.down:
            return None
        room = served_room(room_id, None)
        return await self._check_grant(caller, room, None) or await self._check_rooms(
            caller, self.limits_of(caller), room
        )

    async def _scope_denial(self, caller: Caller, room: ServedRoom, hint: str | None) -> Denied | None:
        grant = caller.grant
        if grant is None or await self.scope.allows(grant, room, hint=hint):
            return None
        if not room.named:
            return Denied(403, "creator_not_allowed", "this token is scoped to creators: name one of their rooms")
        return Denied(403, "creator_not_allowed", "this token is not scoped to that creator")

    async def _check_grant(self, caller: Caller, room: ServedRoom, hint: str | None) -> Denied | None:
        scoped = await self._scope_denial(caller, room, hint)
        grant = caller.grant
        if scoped is not None or grant is None or grant.max_connections is None:
            return scoped
        try:
            taken = await self.connections.take(grant.token_id, grant.max_connections, grant.expires_at)
        except StoreUnavailable as exc:
            if not self.fails_open:
                return self._store_down(exc)
            self._failed_open(exc)
            return None
        if not taken:
            return Denied(429, "token_exhausted", "this token has made all its connections", "connections")
        return None

    async def _check_rooms(self, caller: Caller, limits: Limits, room: ServedRoom) -> Denied | None:
        # A streamer named by unique id is a room too (counted under "@name"): the cap must not be skipped.
        counted = room.room_id or (f"@{room.unique_id}" if room.unique_id else None)
        if counted is None or limits.rooms_per_hour is None:
            return None
        now = self._clock()
        try:
            allowed, frees_at = await self.rooms.admit(caller.label, counted, limits.rooms_per_hour, now)
        except StoreUnavailable as exc:
            if not self.fails_open:
                return self._store_down(exc)
            self._failed_open(exc)
            return None
        if allowed:
            return None
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
