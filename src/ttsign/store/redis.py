"""Redis-backed key store, and the one way every Redis store here connects and reports an outage.

Many replicas share one Redis: keys, rate-limit windows, room caps, token counts and upstream identities.
Every command has a short timeout and at most one immediate retry (a pooled connection that died while
Redis restarted gets replaced), so an outage turns into StoreUnavailable in well under a second instead
of a hang; the caller then fails open or closed. Keys stay hashed at rest, as in every store.

Layout (all under the configured prefix, `ttsign:` by default):
  key:<key_id>        hash   the KeyRecord fields
  keyhash:<sha256>    string key_id (lookup by the presented key's hash)
  keys                zset   key_id scored by created_at (listing)
  secret:<name>       string server-wide secrets, created once (SET NX)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ttsign.store.base import KeyNotFoundError, KeyRecord, Limits, StoreUnavailable

DEFAULT_PREFIX = "ttsign:"
DEFAULT_TIMEOUT_S = 1.5  # the Settings default; see redis_timeout_s


def redis_options(timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Connection options shared by our clients and the rate limiter's: short timeouts, one quick retry.

    The retry is for a dropped connection only (a pooled socket Redis closed when it restarted); a Redis
    that does not answer is not asked twice, so one command costs at most `timeout_s`.
    """
    return {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        "health_check_interval": 0,
    }


# Commands take well under a millisecond, so a few dozen connections carry thousands of requests a second;
# a larger pool only means a burst opens hundreds of sockets at once, and the last handshakes miss the
# timeout (a false outage). Beyond the pool, a command waits (up to the timeout) for a free connection.
POOL_SIZE = 64


def connection_pool(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, **extra: Any) -> BlockingConnectionPool:
    """A bounded pool that waits (up to twice `timeout_s`) for a free connection under load.

    redis-py's default pool raises MaxConnectionsError the moment more than 100 commands are in flight,
    which under a burst of requests would look like a Redis outage; waiting briefly is the right answer.
    """
    return BlockingConnectionPool.from_url(
        url, max_connections=POOL_SIZE, timeout=2 * timeout_s, **redis_options(timeout_s), **extra
    )


def redis_client(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Redis:
    """A client for `url` (redis://host:port/db); connects lazily, on first use, in the running loop."""
    # from_pool: the client owns its pool, so closing the client closes the connections too.
    client: Redis = Redis.from_pool(connection_pool(url, timeout_s=timeout_s, decode_responses=True))
    return client


@contextlib.contextmanager
def unavailable_on_error(what: str) -> Iterator[None]:
    """Turn "Redis did not answer" into StoreUnavailable. Other Redis errors are bugs and propagate."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"redis {what}: {type(exc).__name__}: {str(exc)[:160]}") from exc


# add: refuse an existing key_id; record, hash index and listing written together.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
"""
# replace: only an existing key_id; a changed hash moves the index entry.
_REPLACE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[1], 'key_hash')
if old and old ~= ARGV[2] then redis.call('DEL', ARGV[3] .. old) end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""
# by_hash in one round trip: index -> record.
_BY_HASH = """
local id = redis.call('GET', KEYS[1])
if not id then return {} end
return redis.call('HGETALL', ARGV[1] .. id)
"""


def _fields(record: KeyRecord) -> list[str]:
    pairs = {
        "key_id": record.key_id,
        "key_hash": record.key_hash,
        "name": record.name,
        "created_at": repr(record.created_at),
        "revoked_at": "" if record.revoked_at is None else repr(record.revoked_at),
        "limits": json.dumps(asdict(record.limits)),
        "chat_enabled": "1" if record.chat_enabled else "0",
        "session_forwarding": "1" if record.session_forwarding else "0",
    }
    return [item for pair in pairs.items() for item in pair]


def _record(fields: dict[str, str]) -> KeyRecord:
    return KeyRecord(
        key_id=fields["key_id"],
        key_hash=fields["key_hash"],
        name=fields["name"],
        created_at=float(fields["created_at"]),
        revoked_at=float(fields["revoked_at"]) if fields.get("revoked_at") else None,
        limits=Limits(**json.loads(fields["limits"])),
        chat_enabled=fields.get("chat_enabled") == "1",
        session_forwarding=fields.get("session_forwarding") == "1",
    )


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RedisKeyStore:
    """The KeyStore protocol on Redis, for many replicas. `owns_client`: close the client on close()."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX, owns_client: bool = True) -> None:
        self.client = client
        self.prefix = prefix
        self._owns = owns_client
        self._add = client.register_script(_ADD)
        self._replace = client.register_script(_REPLACE)
        self._by_hash = client.register_script(_BY_HASH)

    def _key(self, key_id: str) -> str:
        return f"{self.prefix}key:{key_id}"

    def _index(self, key_hash: str) -> str:
        return f"{self.prefix}keyhash:{key_hash}"

    async def add(self, record: KeyRecord) -> None:
        keys = [self._key(record.key_id), self._index(record.key_hash), f"{self.prefix}keys"]
        with unavailable_on_error("add key"):
            added = await self._add(keys=keys, args=[record.key_id, repr(record.created_at), *_fields(record)])
        if not added:
            raise ValueError(f"key id {record.key_id} exists")

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        with unavailable_on_error("key lookup"):
            flat = await self._by_hash(keys=[self._index(key_hash)], args=[f"{self.prefix}key:"])
        return _record(_pairs(list(flat))) if flat else None

    async def by_id(self, key_id: str) -> KeyRecord | None:
        with unavailable_on_error("key lookup"):
            fields = cast(dict[str, str], await self.client.hgetall(self._key(key_id)))
        return _record(fields) if fields else None

    async def all(self) -> list[KeyRecord]:
        with unavailable_on_error("list keys"):
            ids = cast(list[str], await self.client.zrange(f"{self.prefix}keys", 0, -1))
            async with self.client.pipeline(transaction=False) as pipe:
                for key_id in ids:
                    pipe.hgetall(self._key(key_id))
                found: list[dict[str, str]] = await pipe.execute()
        return [_record(fields) for fields in found if fields]

    async def replace(self, record: KeyRecord) -> None:
        keys = [self._key(record.key_id), self._index(record.key_hash)]
        args = [record.key_id, record.key_hash, f"{self.prefix}keyhash:", *_fields(record)]
        with unavailable_on_error("replace key"):
            replaced = await self._replace(keys=keys, args=args)
        if not replaced:
            raise KeyNotFoundError(record.key_id)

    async def secret(self, name: str, make: Callable[[], str]) -> str:
        key = f"{self.prefix}secret:{name}"
        with unavailable_on_error("secret"):
            # SET NX: when two replicas race, the first value wins for both.
            await self.client.set(key, make(), nx=True)
            value = await self.client.get(key)
        if value is None:  # deleted between the two commands: try once more
            return await self.secret(name, make)
        return str(value)

    async def forget_secret(self, name: str) -> None:
        with unavailable_on_error("secret"):
            await self.client.delete(f"{self.prefix}secret:{name}")

    async def close(self) -> None:
        if self._owns:
            await self.client.aclose()
