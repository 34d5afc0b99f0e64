"""Relay rooms across replicas, in Redis: who owns a room's TikTok socket (a lease), which replicas still
want its events (watchers), and the channel its frames travel on to them (pub/sub).

A lease is `SET NX PX`, renewed and released only by its holder (compare-and-set in Lua), so a replica
that dies loses its rooms after one lease period and another replica takes them over. Frames go through
pub/sub as the bytes TikTok sent: a watcher decodes them exactly as the owner did.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from ttsign.store.redis import DEFAULT_PREFIX, DEFAULT_TIMEOUT_S, connection_pool

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def relay_client(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Redis:
    """A client of the relay's own (frames are bytes, and each subscription holds a connection)."""
    client: Redis = Redis.from_pool(connection_pool(url, timeout_s=timeout_s, decode_responses=False))
    return client


class RelayExchange:
    def __init__(self, client: Redis, *, replica: str, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self.replica = replica
        self._prefix = f"{prefix}relay:"
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _lease(self, unique_id: str) -> str:
        return f"{self._prefix}lease:{unique_id}"

    def channel(self, unique_id: str) -> str:
        return f"{self._prefix}frames:{unique_id}"

    def _room(self, unique_id: str) -> str:
        return f"{self._prefix}room:{unique_id}"

    def _watchers(self, unique_id: str) -> str:
        return f"{self._prefix}watchers:{unique_id}"

    # ---- the lease ----

    async def acquire(self, unique_id: str, lease_s: float) -> bool:
        taken = await self._client.set(self._lease(unique_id), self.replica, nx=True, px=int(lease_s * 1000))
        return bool(taken)

    async def renew(self, unique_id: str, lease_s: float) -> bool:
        return bool(await self._renew(keys=[self._lease(unique_id)], args=[self.replica, int(lease_s * 1000)]))

    async def release(self, unique_id: str) -> None:
        await self._release(keys=[self._lease(unique_id)], args=[self.replica])

    async def owned(self, unique_id: str) -> bool:
        """Whether any replica holds the room's lease."""
        return bool(await self._client.exists(self._lease(unique_id)))

    # ---- the room's id, for watchers' roomInfo ----

    async def set_room_id(self, unique_id: str, room_id: str, lease_s: float) -> None:
        await self._client.set(self._room(unique_id), room_id, px=int(lease_s * 1000))

    async def room_id(self, unique_id: str) -> str | None:
        value = await self._client.get(self._room(unique_id))
        return value.decode() if isinstance(value, bytes) else None

    # ---- watchers: replicas with consumers of a room they do not own ----

    async def watch(self, unique_id: str, lease_s: float) -> None:
        await self._client.zadd(self._watchers(unique_id), {self.replica: time.time() + lease_s})

    async def unwatch(self, unique_id: str) -> None:
        await self._client.zrem(self._watchers(unique_id), self.replica)

    async def watched_elsewhere(self, unique_id: str) -> bool:
        key = self._watchers(unique_id)
        await self._client.zremrangebyscore(key, "-inf", time.time())
        others = await self._client.zrange(key, 0, -1)
        return any(member not in (self.replica, self.replica.encode()) for member in others)

    # ---- frames ----

    async def publish(self, unique_id: str, frame: bytes) -> None:
        await self._client.publish(self.channel(unique_id), frame)

    async def subscribe(self, unique_id: str) -> PubSub:
        """The room's channel, subscribed before this returns (so no frame published after is missed)."""
        pubsub = self._client.pubsub()
        await pubsub.subscribe(self.channel(unique_id))
        return pubsub

    @staticmethod
    async def unsubscribe(pubsub: PubSub) -> None:
        with contextlib.suppress(Exception):  # a dead connection is closed all the same
            await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await self._client.aclose()
