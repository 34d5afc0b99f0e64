"""The streamer → room lookup retries TikTok's transient faults inside its budget, and never its refusals."""

from __future__ import annotations

import random

from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.service.room_lookup import RoomLookupService
from ttsign.upstream.identity import IdentityPool, bootstrap_identity
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.retry import RetryPolicy
from ttsign.upstream.rooms import Room, RoomDirectory
from ttsign.upstream.transport import UpstreamRequest, UpstreamResponse

BASE = "http://127.0.0.1:9"
RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.002)


class FlakyApiLive(FakeTikTok):
    """api-live answers `status` for the first `faults` lookups."""

    def __init__(self, faults: int, status: int = 503) -> None:
        super().__init__()
        self.faults, self.status, self.lookups = faults, status, 0

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        if "/api-live/user/room/" in request.url:
            self.lookups += 1
            if self.lookups <= self.faults:
                self.requests.append(request)
                return UpstreamResponse(self.status, (), b"busy")
        return await super().send(request)


def service(tiktok: FakeTikTok) -> RoomLookupService:
    rng = random.Random(3)

    async def factory(profile: object) -> object:
        return await bootstrap_identity(tiktok, BASE, profile, rng=rng)  # type: ignore[arg-type]

    pool = IdentityPool(factory)  # type: ignore[arg-type]
    return RoomLookupService(pool, RoomDirectory(tiktok, www_base=BASE), deadline_s=2.5, retry=RETRY, rng=rng)


async def test_a_5xx_that_clears_is_retried() -> None:
    tiktok = FlakyApiLive(faults=2)
    room = await service(tiktok).lookup("emu_streamer")
    assert isinstance(room, Room) and room.room_id == "7390000000000000001"
    assert tiktok.lookups == 3


async def test_a_persistent_5xx_ends_after_max_attempts() -> None:
    tiktok = FlakyApiLive(faults=99)
    refusal = await service(tiktok).lookup("emu_streamer")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.UPSTREAM_5XX
    assert tiktok.lookups == 3


async def test_a_refusal_is_not_retried() -> None:
    tiktok = FlakyApiLive(faults=99, status=403)
    refusal = await service(tiktok).lookup("emu_streamer")
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.FORBIDDEN_403
    assert tiktok.lookups == 1
