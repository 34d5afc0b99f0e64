"""Admission: credentials, limits per IP/key/anonymous, JWT scope, distinct-room caps."""

from __future__ import annotations

import pytest

from ttsign.service.admission import AccessPolicy, Admission, Admitted, Credentials, Denied
from ttsign.service.jwt_auth import JwtAuthority
from ttsign.service.keys import KeyService
from ttsign.service.limits import RateLimiter
from ttsign.store.base import Limits
from ttsign.store.memory import MemoryKeyStore

POLICY = AccessPolicy(
    anonymous_limits=Limits(per_minute=2),
    per_ip_limits=Limits(per_minute=100),
    default_key_limits=Limits(per_minute=50),
    anonymous_rooms_per_hour=2,
)


def admission(policy: AccessPolicy = POLICY) -> Admission:
    return Admission(KeyService(MemoryKeyStore()), RateLimiter(), policy=policy, jwt=JwtAuthority(b"j" * 32))


async def test_anonymous_callers_get_the_anonymous_limit_with_retry_timing() -> None:
    gate = admission()
    assert isinstance(await gate.admit(Credentials(), "10.0.0.1"), Admitted)
    assert isinstance(await gate.admit(Credentials(), "10.0.0.1"), Admitted)
    denied = await gate.admit(Credentials(), "10.0.0.1")
    assert isinstance(denied, Denied) and denied.status == 429 and denied.limit_label == "minute"
    assert 1 <= denied.retry_after_s <= 60 and denied.reset_at > 0
    assert isinstance(await gate.admit(Credentials(), "10.0.0.2"), Admitted)  # another address


async def test_keys_use_their_own_limits_and_bad_keys_are_401() -> None:
    gate = admission()
    _, key = await gate.keys.create("k", Limits(per_minute=3))
    results = [await gate.admit(Credentials(api_key=key), "10.0.0.1") for _ in range(4)]
    assert [isinstance(r, Admitted) for r in results] == [True, True, True, False]
    first = results[0]
    assert isinstance(first, Admitted) and first.caller.key is not None
    bad = await gate.admit(Credentials(api_key="tts_nope_" + "x" * 30), "10.0.0.1")
    assert isinstance(bad, Denied) and (bad.status, bad.reason) == (401, "invalid_api_key")


async def test_revoked_key_is_refused() -> None:
    gate = admission()
    record, key = await gate.keys.create("k")
    await gate.keys.revoke(record.key_id)
    gate.keys._cache.clear()  # another replica would see it within the cache TTL
    denied = await gate.admit(Credentials(api_key=key), "10.0.0.1")
    assert isinstance(denied, Denied) and denied.status == 401


async def test_anonymous_access_can_be_switched_off() -> None:
    gate = admission(AccessPolicy(allow_anonymous=False))
    denied = await gate.admit(Credentials(), "10.0.0.1")
    assert isinstance(denied, Denied) and (denied.status, denied.reason) == (401, "api_key_required")


async def test_per_ip_limit_applies_to_keys_too() -> None:
    gate = admission(AccessPolicy(per_ip_limits=Limits(per_minute=1)))
    _, key = await gate.keys.create("k")
    assert isinstance(await gate.admit(Credentials(api_key=key), "10.9.9.9"), Admitted)
    denied = await gate.admit(Credentials(api_key=key), "10.9.9.9")
    assert isinstance(denied, Denied) and "address" in denied.message


async def test_distinct_rooms_are_capped_but_the_same_room_is_not() -> None:
    gate = admission(AccessPolicy(anonymous_limits=Limits(per_minute=100), anonymous_rooms_per_hour=2))
    for room in ("1", "2", "1", "2"):
        assert isinstance(await gate.admit(Credentials(), "10.0.0.1", room_id=room), Admitted)
    denied = await gate.admit(Credentials(), "10.0.0.1", room_id="3")
    assert isinstance(denied, Denied) and denied.limit_label == "rooms" and denied.retry_after_s > 3000


@pytest.mark.parametrize("creator", ["emu_streamer", "7390000000000000001"])
async def test_jwt_scope_by_creator_and_connections(creator: str) -> None:
    gate = admission()
    record, _ = await gate.keys.create("k")
    authority = await gate.jwt_authority()
    assert authority is not None
    token, _ = authority.issue(record.key_id, allowed_creators=[creator], max_connections=2)
    creds = Credentials(jwt=token)
    room_args = {"unique_id": "emu_streamer"} if not creator.isdigit() else {"room_id": creator}
    assert isinstance(await gate.admit(creds, "10.0.0.1", **room_args), Admitted)
    other = await gate.admit(creds, "10.0.0.1", unique_id="someone_else", room_id="42")
    assert isinstance(other, Denied) and other.status == 403
    assert isinstance(await gate.admit(creds, "10.0.0.1", **room_args), Admitted)
    spent = await gate.admit(creds, "10.0.0.1", **room_args)
    assert isinstance(spent, Denied) and spent.reason == "token_exhausted"
    await gate.keys.revoke(record.key_id)
    revoked = await gate.admit(Credentials(jwt=authority.issue(record.key_id)[0]), "10.0.0.1")
    assert isinstance(revoked, Denied) and revoked.status == 401
