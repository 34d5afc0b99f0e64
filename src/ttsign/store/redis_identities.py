"""Upstream identities shared by every replica through Redis: one slot per browser profile.

A slot holds the identity every replica should use for that profile (device id, profile, TikTok's
cookies), expiring with the identity's maximum age. Retiring marks it retired for everyone. A short lock
(SET NX PX) lets one replica bootstrap a slot while the others wait for its record. When TikTok rotates
the identity's msToken or ttwid, the replica that saw it writes the new cookies into the record, only
if it still holds that identity, live, with an older rotation: a late write never resurrects a retired or
replaced identity, nor rolls a newer token back.

Layout (under the prefix): `identity:<slot digest>` hash {id, retired, rotated_at, data},
`identity-lock:<slot digest>`.
The record holds cookies (ttwid, msToken): secrets, never logged; no client secret is ever stored.
"""

from __future__ import annotations

import json
import secrets
from typing import cast

from redis.asyncio import Redis

from ttsign.store.base import IdentityRecord, slot_digest
from ttsign.store.redis import DEFAULT_PREFIX, unavailable_on_error

_RETIRE = """
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'retired', '1')
  return 1
end
return 0
"""
# KEYS[1] record; ARGV: identity id, rotated_at, data. Keeps the record's expiry.
_UPDATE_COOKIES = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'retired') == '1' then return 0 end
if tonumber(ARGV[2]) <= tonumber(redis.call('HGET', KEYS[1], 'rotated_at') or '0') then return 0 end
redis.call('HSET', KEYS[1], 'rotated_at', ARGV[2], 'data', ARGV[3])
return 1
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _encode(record: IdentityRecord) -> str:
    return json.dumps(
        {
            "device_id": record.device_id,
            "profile_name": record.profile_name,
            "user_agent": record.user_agent,
            "cookies": record.cookies,
            "created_at": record.created_at,
        }
    )


def _decode(identity_id: str, data: str, retired: bool, rotated_at: str) -> IdentityRecord | None:
    try:
        fields = json.loads(data)
        return IdentityRecord(
            identity_id=identity_id,
            device_id=str(fields["device_id"]),
            profile_name=str(fields["profile_name"]),
            user_agent=str(fields["user_agent"]),
            cookies={str(k): str(v) for k, v in dict(fields["cookies"]).items()},
            created_at=float(fields["created_at"]),
            retired=retired,
            rotated_at=float(rotated_at),
        )
    except (ValueError, KeyError, TypeError):
        return None  # unreadable (another version wrote it): treated as empty, a fresh one replaces it


class RedisIdentityShelf:
    """The IdentityShelf protocol on Redis."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self._prefix = prefix
        self._retire = client.register_script(_RETIRE)
        self._unlock = client.register_script(_UNLOCK)
        self._update_cookies = client.register_script(_UPDATE_COOKIES)

    def _key(self, slot: str) -> str:
        return f"{self._prefix}identity:{slot_digest(slot)}"

    def _lock(self, slot: str) -> str:
        return f"{self._prefix}identity-lock:{slot_digest(slot)}"

    async def load(self, slot: str) -> IdentityRecord | None:
        """The slot's identity (possibly retired); None when empty or expired."""
        with unavailable_on_error("identity load"):
            fields = cast(dict[str, str], await self.client.hgetall(self._key(slot)))
        if "id" not in fields or "data" not in fields:
            return None
        return _decode(fields["id"], fields["data"], fields.get("retired") == "1", fields.get("rotated_at", "0"))

    async def save(self, slot: str, record: IdentityRecord, ttl_s: float) -> None:
        key = self._key(slot)
        with unavailable_on_error("identity save"):
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.hset(
                    key,
                    mapping={
                        "id": record.identity_id,
                        "retired": "0",
                        "rotated_at": repr(record.rotated_at),
                        "data": _encode(record),
                    },
                )
                pipe.pexpire(key, max(1, int(ttl_s * 1000)))
                await pipe.execute()

    async def update_cookies(self, slot: str, record: IdentityRecord) -> bool:
        args = [record.identity_id, repr(record.rotated_at), _encode(record)]
        with unavailable_on_error("identity cookies"):
            updated = await self._update_cookies(keys=[self._key(slot)], args=args)
        return bool(updated)

    async def retire(self, slot: str, identity_id: str) -> None:
        with unavailable_on_error("identity retire"):
            await self._retire(keys=[self._key(slot)], args=[identity_id])

    async def try_lock(self, slot: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)
        with unavailable_on_error("identity lock"):
            got = await self.client.set(self._lock(slot), token, nx=True, px=max(1, int(ttl_s * 1000)))
        return token if got else None

    async def unlock(self, slot: str, token: str) -> None:
        with unavailable_on_error("identity unlock"):
            await self._unlock(keys=[self._lock(slot)], args=[token])
