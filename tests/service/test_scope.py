"""Creator scope: judged on the room a request is served, never on a unique id sent beside it."""

from __future__ import annotations

import pytest

from ttsign.service.jwt_auth import JwtGrant
from ttsign.service.scope import CreatorScope, ServedRoom, room_of_url, served_room

ROOMS = {"alice": "111", "bob": "222", "carol": "333"}


def grant(*creators: str) -> JwtGrant:
    return JwtGrant("k1", "t1", 2_000_000_000, tuple(creators) if creators else None, None)


class Directory:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, unique_id: str) -> str | None:
        self.asked.append(unique_id)
        return ROOMS.get(unique_id)


@pytest.mark.parametrize(
    ("room_id", "unique_id", "served"),
    [
        ("222", "alice", ServedRoom(room_id="222")),  # the room id wins: the unique id is not served
        ("0", "@Alice", ServedRoom(unique_id="alice")),  # Euler: room_id=0 means "use unique_id"
        (" ", "alice", ServedRoom(unique_id="alice")),
        (None, None, ServedRoom()),
    ],
)
def test_served_room_follows_the_connect_rule(room_id: str | None, unique_id: str | None, served: ServedRoom) -> None:
    assert served_room(room_id, unique_id) == served


async def test_a_room_id_is_in_scope_only_as_a_named_creators_current_room() -> None:
    directory = Directory()
    scope = CreatorScope(directory)
    assert await scope.allows(grant("@Alice"), ServedRoom(room_id="111"))
    assert not await scope.allows(grant("@Alice"), ServedRoom(room_id="222"), hint="alice")
    assert await scope.allows(grant("222"), ServedRoom(room_id="222"))  # named literally: no lookup
    assert directory.asked == ["alice", "alice"]


async def test_unique_ids_and_unscoped_tokens() -> None:
    scope = CreatorScope(None)
    assert await scope.allows(grant("@ALICE"), ServedRoom(unique_id="alice"))
    assert not await scope.allows(grant("alice"), ServedRoom(unique_id="bob"))
    assert not await scope.allows(grant("alice"), ServedRoom(room_id="111"))  # nothing to look it up with
    assert not await scope.allows(grant("alice"), ServedRoom())  # a scoped token must name a room
    assert await scope.allows(grant(), ServedRoom(room_id="999"))


async def test_lookups_are_bounded_and_the_hint_goes_first() -> None:
    directory = Directory()
    scope = CreatorScope(directory, max_lookups=2)
    many = grant("x1", "x2", "x3", "carol")
    assert not await scope.allows(many, ServedRoom(room_id="333"))  # carol is past the bound
    assert directory.asked == ["x1", "x2"]
    directory.asked.clear()
    assert await scope.allows(many, ServedRoom(room_id="333"), hint="@carol")
    assert directory.asked == ["carol"]
    directory.asked.clear()
    assert not await scope.allows(many, ServedRoom(room_id="333"), hint="mallory")  # a hint outside scope is not used
    assert "mallory" not in directory.asked


@pytest.mark.parametrize(
    ("url", "room"),
    [
        ("https://webcast.tiktok.com/webcast/gift/list/?room_id=5&aid=1988", ServedRoom(room_id="5")),
        ("https://webcast.tiktok.com/webcast/gift/list/?aid=1988", ServedRoom()),
        ("https://webcast.tiktok.com/webcast/x/?room_id=5&room_id=6", None),
        ("https://webcast.tiktok.com/webcast/x/?room_id=5&room_id=5", ServedRoom(room_id="5")),
    ],
)
def test_the_room_of_a_url(url: str, room: ServedRoom | None) -> None:
    assert room_of_url(url) == room
