"""Circuit-breaker transitions shared by every replica through Redis: pub/sub, plus a list of open breakers.

A transition is published on a channel, so replicas listening hear it within milliseconds; an open breaker
is also kept in a sorted set scored by its reopen time, so a replica that starts (or reconnects) late still
learns which breakers are open. One script call per transition writes both, so nobody hears of an open
breaker the set does not hold. The set expires with its last breaker, and holds at most `max_keys`.

Layout (under the prefix): `breakers-open` zset "<scope>:<key>" scored by reopen time (unix seconds);
channel `breaker-events`, JSON {scope, key, reopens_at, origin}. Keys are room ids or labels and identity
slot digests: nothing secret.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, cast

from redis.asyncio import Redis

from ttsign.store.base import BreakerEvent
from ttsign.store.redis import DEFAULT_PREFIX, unavailable_on_error

MAX_KEY_CHARS = 512  # longer keys in a message are not ours: ignored
_POLL_S = 1.0  # how long one wait for a message lasts (the loop around it is what keeps listening)

# KEYS[1] open set; ARGV: member, reopens_at, now, max members, channel, message
_OPEN = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1) end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((tonumber(last[2]) - tonumber(ARGV[3])) * 1000)))
end
return redis.call('PUBLISH', ARGV[5], ARGV[6])
"""
# KEYS[1] open set; ARGV: member, channel, message
_CLOSE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('PUBLISH', ARGV[2], ARGV[3])
"""


def encode_event(event: BreakerEvent) -> str:
    return json.dumps(
        {"scope": event.scope, "key": event.key, "reopens_at": event.reopens_at, "origin": event.origin},
        separators=(",", ":"),
    )


def decode_event(data: object) -> BreakerEvent | None:
    """The event in a channel message; None when it is not one of ours (another version, garbage)."""
    try:
        fields = json.loads(cast(str, data))
        scope, key, origin = fields["scope"], fields["key"], fields["origin"]
        reopens_at = fields["reopens_at"]
        if not all(isinstance(v, str) for v in (scope, key, origin)) or len(key) > MAX_KEY_CHARS:
            return None
        if reopens_at is not None and not (isinstance(reopens_at, int | float) and math.isfinite(reopens_at)):
            return None
        return BreakerEvent(scope, key, None if reopens_at is None else float(reopens_at), origin)
    except (ValueError, KeyError, TypeError):
        return None


class RedisBreakerExchange:
    """The BreakerExchange protocol on Redis."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self._open_set = f"{prefix}breakers-open"
        self._channel = f"{prefix}breaker-events"
        self._max_keys = max_keys
        self._clock = clock
        self._open = client.register_script(_OPEN)
        self._close = client.register_script(_CLOSE)

    async def publish(self, event: BreakerEvent) -> None:
        member, message = f"{event.scope}:{event.key}", encode_event(event)
        with unavailable_on_error("breaker publish"):
            if event.reopens_at is None:
                await self._close(keys=[self._open_set], args=[member, self._channel, message])
            else:
                now = repr(self._clock())
                args: list[str | int] = [member, repr(event.reopens_at), now, self._max_keys, self._channel, message]
                await self._open(keys=[self._open_set], args=args)

    async def listen(self) -> AsyncGenerator[BreakerEvent | None, None]:
        pubsub = self.client.pubsub()
        try:
            with unavailable_on_error("breaker subscribe"):
                await pubsub.subscribe(self._channel)
            while True:
                with unavailable_on_error("breaker events"):
                    message: dict[str, Any] | None = await pubsub.get_message(timeout=_POLL_S)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    # Subscribed (again, after redis-py reconnected by itself): what is open now, from here on.
                    for still_open in await self._open_now():
                        yield still_open
                    yield None
                elif message["type"] == "message":
                    event = decode_event(message["data"])
                    if event is not None:
                        yield event
        finally:
            with contextlib.suppress(Exception):  # a connection that died with Redis is not an error here
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _open_now(self) -> list[BreakerEvent]:
        with unavailable_on_error("breaker list"):
            found = await self.client.zrangebyscore(self._open_set, f"({self._clock()!r}", "+inf", withscores=True)
        events = []
        for member, score in cast(list[tuple[str, float]], found):
            scope, _, key = member.partition(":")
            if key and len(key) <= MAX_KEY_CHARS:
                events.append(BreakerEvent(scope, key, float(score)))
        return events
