"""Bootstrap from cookie pages with bounded retries, and the socket connect budget per identity."""

from __future__ import annotations

import random

from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.signing import default_profile
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import ConnectBudget, Identity, bootstrap_identity
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.transport import UpstreamRequest, UpstreamResponse

BASE = "http://127.0.0.1:9"


class Stingy(FakeTikTok):
    """Cookie pages mint a ttwid only on every `every`-th request (TikTok since late 2026)."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        response = await super().send(request)
        if len(self.bootstraps) % self.every:
            return UpstreamResponse(200, (("content-type", "text/html"),), b"<html>no cookie</html>")
        return response


async def no_sleep(_: float) -> None:
    return None


async def test_bootstrap_retries_until_a_page_mints_a_ttwid() -> None:
    tiktok = Stingy(every=3)
    identity = await bootstrap_identity(
        tiktok, BASE, default_profile(), rng=random.Random(1), pages=("/@tiktok",), attempts=8, sleep=no_sleep
    )
    assert isinstance(identity, Identity) and identity.ttwid
    assert [r.url for r in tiktok.bootstraps] == [f"{BASE}/@tiktok"] * 3


async def test_bootstrap_moves_to_the_next_page_then_gives_up_typed() -> None:
    tiktok = Stingy(every=100)
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    outcome = await bootstrap_identity(
        tiktok, BASE, default_profile(), rng=random.Random(1), pages=("/@name", "/@tiktok"), attempts=2,
        retry_delay_s=0.75, sleep=sleep,
    )  # fmt: skip
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.NO_TTWID
    assert [r.url.removeprefix(BASE) for r in tiktok.bootstraps] == ["/@name", "/@name", "/@tiktok", "/@tiktok"]
    assert pauses == [0.75] * 3


async def test_a_challenge_page_is_not_tried_again() -> None:
    tiktok = FakeTikTok(bootstrap_status=403)
    outcome = await bootstrap_identity(tiktok, BASE, default_profile(), rng=random.Random(1), attempts=8)
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.FORBIDDEN_403
    assert len(tiktok.bootstraps) == 1


async def test_budget_counts_socket_connects_per_identity() -> None:
    budget = ConnectBudget(per_hour=2)
    first, second = (Identity("1", default_profile(), CookieJar(), created_at=0.0) for _ in range(2))
    assert [await budget.spend(first) for _ in range(3)] == [True, True, False]
    assert await budget.spend(second)


async def test_replicas_share_an_identitys_budget_through_redis() -> None:
    from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
    from ttsign.store.redis_limits import rate_limit_storage

    require_redis()
    prefix = new_prefix()
    storages = [rate_limit_storage(REDIS_URL, prefix=prefix, timeout_s=1.0)[0] for _ in range(2)]
    try:
        one, other = (ConnectBudget(per_hour=3, storage=storage) for storage in storages)
        shared = Identity("1", default_profile(), CookieJar(), created_at=0.0, key="shared-identity")
        spent = [await budget.spend(shared) for budget in (one, other, one, other)]
        assert spent == [True, True, True, False]
    finally:
        delete_prefix(prefix)


async def test_an_unreachable_budget_store_lets_connects_through() -> None:
    from tests.redis_db import free_port
    from ttsign.store.redis_limits import rate_limit_storage

    storage, _ = rate_limit_storage(f"redis://127.0.0.1:{free_port()}/0", prefix="x:", timeout_s=0.2)
    budget = ConnectBudget(per_hour=1, storage=storage)
    identity = Identity("1", default_profile(), CookieJar(), created_at=0.0)
    assert [await budget.spend(identity) for _ in range(2)] == [True, True]


async def test_the_streamers_page_comes_first_then_the_configured_pages() -> None:
    tiktok = Stingy(every=2)
    identity = await bootstrap_identity(
        tiktok, BASE, default_profile(), "emu_streamer", rng=random.Random(1), pages=("/@tiktok",), attempts=1,
        sleep=no_sleep,
    )  # fmt: skip
    assert isinstance(identity, Identity)
    assert [r.url.removeprefix(BASE) for r in tiktok.bootstraps] == ["/@emu_streamer", "/@tiktok"]


async def test_a_page_that_does_not_exist_moves_on_to_the_next() -> None:
    class NoSuchUser(FakeTikTok):
        async def send(self, request: UpstreamRequest) -> UpstreamResponse:
            if request.url.endswith("/@nobody"):
                self.requests.append(request)
                return UpstreamResponse(404, (("content-type", "text/html"),), b"<html>not found</html>")
            return await super().send(request)

    tiktok = NoSuchUser()
    identity = await bootstrap_identity(
        tiktok, BASE, default_profile(), "nobody", rng=random.Random(1), pages=("/@tiktok",), attempts=3,
        sleep=no_sleep,
    )  # fmt: skip
    assert isinstance(identity, Identity)
    assert [r.url.removeprefix(BASE) for r in tiktok.bootstraps] == ["/@nobody", "/@tiktok"]
