"""What the streamer → room cache keeps: rooms for the TTL, "no such user"/"not live" briefly, refusals never."""

from __future__ import annotations

import pytest

from tests.service.test_sign import Factory
from ttsign.service.room_lookup import RoomLookupService
from ttsign.upstream.identity import Identity, IdentityPool
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.rooms import Room

ROOM = Room("7390000000000000001", True)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedDirectory:
    """Answers each lookup with the next scripted result (the last one repeats)."""

    def __init__(self, *answers: Room | Refusal) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def room_of(self, identity: Identity, unique_id: str) -> Room | Refusal:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def lookup_service(directory: ScriptedDirectory, clock: Clock) -> RoomLookupService:
    pool = IdentityPool(Factory(), clock=lambda: 1.0)
    return RoomLookupService(pool, directory, ttl_s=15.0, negative_ttl_s=5.0, clock=clock)  # type: ignore[arg-type]


async def test_a_room_is_kept_for_the_ttl() -> None:
    clock, directory = Clock(), ScriptedDirectory(ROOM)
    rooms = lookup_service(directory, clock)
    assert await rooms.lookup("streamer") == ROOM
    clock.now += 14.9
    assert await rooms.lookup("@Streamer") == ROOM
    assert directory.calls == 1
    clock.now += 0.2
    await rooms.lookup("streamer")
    assert directory.calls == 2


@pytest.mark.parametrize(
    "answer",
    [Refusal(RefusalCode.ROOM_NOT_FOUND), Refusal(RefusalCode.ROOM_NOT_LIVE), Room(ROOM.room_id, False)],
    ids=["not-found", "not-live", "offline-room"],
)
async def test_an_answer_that_the_streamer_is_not_live_is_kept_only_briefly(answer: Room | Refusal) -> None:
    clock, directory = Clock(), ScriptedDirectory(answer, ROOM)
    rooms = lookup_service(directory, clock)
    assert await rooms.lookup("streamer") == answer
    clock.now += 4.9
    assert await rooms.lookup("streamer") == answer
    clock.now += 0.2  # past the 5 s negative TTL, well inside the 15 s one: the streamer went live
    assert await rooms.lookup("streamer") == ROOM
    assert directory.calls == 2


@pytest.mark.parametrize(
    "code",
    [
        RefusalCode.CAPTCHA,
        RefusalCode.FORBIDDEN_403,
        RefusalCode.DEVICE_BLOCKED,
        RefusalCode.EMPTY_200,
        RefusalCode.MALFORMED_PAYLOAD,
        RefusalCode.UPSTREAM_4XX,
        RefusalCode.CIRCUIT_OPEN,
        RefusalCode.TIMEOUT,
        RefusalCode.TRANSPORT_ERROR,
    ],
)
async def test_a_refusal_of_our_request_is_never_cached(code: RefusalCode) -> None:
    clock, directory = Clock(), ScriptedDirectory(Refusal(code), ROOM)
    rooms = lookup_service(directory, clock)
    refused = await rooms.lookup("streamer")
    assert isinstance(refused, Refusal) and refused.code is code
    assert await rooms.lookup("streamer") == ROOM  # the very next caller recovers, no TTL to wait out
    assert directory.calls == 2


async def test_the_negative_ttl_never_exceeds_the_ttl() -> None:
    clock, directory = Clock(), ScriptedDirectory(Refusal(RefusalCode.ROOM_NOT_LIVE), ROOM)
    pool = IdentityPool(Factory(), clock=lambda: 1.0)
    rooms = RoomLookupService(pool, directory, ttl_s=2.0, negative_ttl_s=5.0, clock=clock)  # type: ignore[arg-type]
    await rooms.lookup("streamer")
    clock.now += 2.1
    assert await rooms.lookup("streamer") == ROOM
