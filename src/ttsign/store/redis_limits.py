"""Admission state shared by every replica through Redis: rate-limit windows, room caps, token counts.

Rate-limit windows are the `limits` library's own Redis storage (fixed windows counted by one atomic
INCR+EXPIRE script, so N replicas together allow exactly N requests). A request's windows are counted
together by `RedisWindowBatch`: the same keys and rule in one round trip instead of one per window.
Room caps and token connection counts are small Lua scripts, each one atomic round trip.

Layout (under the prefix): `limits:...` (the limits library's keys), `rooms:<subject>` (zset room ->
first seen), `jwtuses:<token id>` (counter expiring with the token).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from limits.aio.storage import RedisStorage
from redis.asyncio import ConnectionPool, Redis

from ttsign.store.redis import DEFAULT_PREFIX, DEFAULT_TIMEOUT_S, connection_pool, unavailable_on_error

_SCHEMES = {"redis://": "async+redis://", "rediss://": "async+rediss://", "unix://": "async+redis+unix://"}


def limits_uri(url: str) -> str:
    """The `limits` storage URI for a redis URL (redis://h:p/db -> async+redis://h:p/db)."""
    for scheme, replacement in _SCHEMES.items():
        if url.startswith(scheme):
            return replacement + url[len(scheme) :]
    raise ValueError("redis_url must start with redis://, rediss:// or unix://")


def rate_limit_storage(
    url: str, *, prefix: str = DEFAULT_PREFIX, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[RedisStorage, ConnectionPool]:
    """The limits library's async Redis storage on our own connection pool (short timeouts, closed by us).

    Storage errors come out as `limits.errors.StorageError`, which the RateLimiter reports as an outage.
    """
    pool = connection_pool(url, timeout_s=timeout_s)
    options: dict[str, Any] = {"connection_pool": pool}
    storage = RedisStorage(
        limits_uri(url), implementation="redispy", wrap_exceptions=True, key_prefix=_limits_prefix(prefix), **options
    )
    return storage, pool


# Per window, in order, what limits' own incr script does (INCRBY, EXPIRE on the first hit), plus the
# window's TTL for reset times; stop after the first window over its limit, as the strategy would.
_HIT_WINDOWS = """
local out = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local count = redis.call('INCRBY', key, 1)
  if count == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
  out[#out + 1] = count
  out[#out + 1] = redis.call('TTL', key)
  if count > limit then break end
end
return out
"""


class RedisWindowBatch:
    """Counts a request in all its windows in one round trip (see service.limits.WindowBatch)."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        # The limits library's own key layout (RedisStorage.prefixed_key), so its reads see these counts.
        self._key_prefix = f"{_limits_prefix(prefix)}:"
        self._script = client.register_script(_HIT_WINDOWS)

    async def hit(self, counters: Sequence[tuple[str, int, int]]) -> list[tuple[int, float]]:
        keys = [self._key_prefix + key for key, _, _ in counters]
        args = [value for _, limit, expiry in counters for value in (limit, expiry)]
        with unavailable_on_error("rate limits"):
            flat = await self._script(keys=keys, args=args)
        counts = [int(value) for value in flat]
        # TTL is -1 only if the key lost its expiry (never set by us): report a full window then.
        return [
            (count, float(ttl if ttl >= 0 else counters[index][2]))
            for index, (count, ttl) in enumerate(zip(counts[0::2], counts[1::2], strict=True))
        ]


def _limits_prefix(prefix: str) -> str:
    return f"{prefix}limits"


# Trim rooms older than the window; a known room is always allowed (and keeps its first-seen time);
# a new one only below the cap. Refused: the oldest room's time, when the first slot frees up.
_ROOMS = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return {1, '0'} end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(window))
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, oldest[2]}
"""

# Count a connection unless the token already made `limit`; the counter dies with the token.
_TAKE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return 1
"""


class RedisRoomLedger:
    """Distinct rooms per subject per window, one sorted set per subject, shared by every replica."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX, window_s: float = 3600.0) -> None:
        self._prefix = prefix
        self._window = window_s
        self._script = client.register_script(_ROOMS)

    async def admit(self, subject: str, room: str, cap: int, now: float) -> tuple[bool, float]:
        args: list[str | int] = [repr(now), repr(self._window), room, cap]
        with unavailable_on_error("room cap"):
            allowed, oldest = await self._script(keys=[f"{self._prefix}rooms:{subject}"], args=args)
        if int(allowed):
            return True, 0.0
        return False, float(oldest) + self._window


class RedisConnectCounter:
    """Connections per short-lived token, shared by every replica (JWT `maxWebSockets`)."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._prefix = prefix
        self._script = client.register_script(_TAKE)

    async def take(self, token_id: str, limit: int, expires_at: int) -> bool:
        with unavailable_on_error("token count"):
            taken = await self._script(keys=[f"{self._prefix}jwtuses:{token_id}"], args=[limit, expires_at])
        return bool(int(taken))
