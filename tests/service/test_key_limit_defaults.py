"""Issue 12 item 11: a key's omitted windows follow the server's defaults, window by window; set-limits
changes only the windows it is given."""

from __future__ import annotations

import pytest

from ttsign.service.admission import AccessPolicy, Admission, Admitted, Credentials, Denied
from ttsign.service.keys import KeyService
from ttsign.service.limits import RateLimiter
from ttsign.store.base import Limits
from ttsign.store.memory import MemoryKeyStore

DEFAULTS = Limits(per_minute=100, per_hour=3, per_day=1000)


async def test_a_key_with_only_a_minute_limit_still_gets_the_default_hour_limit() -> None:
    keys = KeyService(MemoryKeyStore())
    gate = Admission(keys, RateLimiter(), policy=AccessPolicy(per_ip_limits=Limits(), default_key_limits=DEFAULTS))
    _, key = await keys.create("minute only", Limits(per_minute=50))
    results = [await gate.admit(Credentials(api_key=key), "10.0.0.1") for _ in range(4)]
    assert [isinstance(r, Admitted) for r in results] == [True, True, True, False]
    denied = results[-1]
    assert isinstance(denied, Denied) and denied.status == 429 and denied.limit_label == "hour"


def test_windows_the_key_sets_win_and_the_room_cap_stays_its_own() -> None:
    assert Limits(per_minute=5).over(DEFAULTS) == Limits(per_minute=5, per_hour=3, per_day=1000)
    assert Limits(per_hour=7, rooms_per_hour=2).over(DEFAULTS) == Limits(100, 7, 1000, 2)
    assert Limits().over(DEFAULTS) == DEFAULTS


async def test_set_limits_keeps_the_windows_it_is_not_given() -> None:
    keys = KeyService(MemoryKeyStore())
    record, _ = await keys.create("k", Limits(per_minute=5, per_day=100, rooms_per_hour=4))
    updated = await keys.update(record.key_id, limit_changes={"per_hour": 50})
    assert updated.limits == Limits(per_minute=5, per_hour=50, per_day=100, rooms_per_hour=4)
    assert (await keys.get(record.key_id)).limits == updated.limits
    with pytest.raises(ValueError, match="unknown limit window"):
        await keys.update(record.key_id, limit_changes={"per_week": 1})
