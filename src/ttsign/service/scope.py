"""Creator scope of short-lived tokens, checked against the room a request is actually served.

A token may name the creators it is for (`allowedCreators`: unique ids or room ids). A request is served
one room: its `room_id` unless that is blank or "0" (Euler's "use the unique id"), else the room of its
`unique_id`. Scope is judged on that room alone; a `unique_id` sent beside another `room_id` is a hint
at most, never a pass. A room id is in scope when the token names it, or when it is the current room of
a creator the token names (looked up, so a browser overlay scoped to `@name` can connect by room id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from ttsign.service.jwt_auth import JwtGrant
from ttsign.upstream.rooms import normalise_unique_id

# A creator's unique id → the id of their current room, or None when it cannot be told (offline, unknown).
RoomResolver = Callable[[str], Awaitable[str | None]]

# A token may name up to 100 creators; a room-id request resolves at most this many of them (cached
# lookups, but each miss is a TikTok request): tokens for browser overlays name one or a few.
MAX_LOOKUPS = 5


@dataclass(frozen=True)
class ServedRoom:
    """The room a request will be served: by id, or by the streamer's unique id; both None when none."""

    room_id: str | None = None
    unique_id: str | None = None

    @property
    def named(self) -> bool:
        return self.room_id is not None or self.unique_id is not None


def served_room(room_id: str | None, unique_id: str | None) -> ServedRoom:
    """The rule the connect use case follows: the room id wins unless it is blank or "0"."""
    if room_id is not None and room_id.strip() not in ("", "0"):
        return ServedRoom(room_id=room_id.strip())
    if unique_id and unique_id.strip():
        return ServedRoom(unique_id=_creator(unique_id))
    return ServedRoom()


def room_of_url(url: str) -> ServedRoom | None:
    """The room a TikTok URL is for (its `room_id` query parameter); None when it names several, which
    a scoped token may not sign (which one TikTok would honour is not ours to guess)."""
    values = {v.strip() for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True) if k == "room_id"}
    if len(values) > 1:
        return None
    return served_room(values.pop() if values else None, None)


def _creator(name: str) -> str:
    return name.strip().lower().removeprefix("@")


class CreatorScope:
    """Whether a token's grant covers a served room. `resolve` looks a creator's room up (may be None:
    then a room id is in scope only when the token names it)."""

    def __init__(self, resolve: RoomResolver | None = None, *, max_lookups: int = MAX_LOOKUPS) -> None:
        self._resolve = resolve
        self._max_lookups = max_lookups

    async def allows(self, grant: JwtGrant, room: ServedRoom, *, hint: str | None = None) -> bool:
        """`hint`: a unique id the caller sent beside a room id, looked up first (never trusted as such)."""
        if grant.allowed_creators is None:
            return True
        allowed = [_creator(c) for c in grant.allowed_creators]
        if room.unique_id is not None:
            return _creator(room.unique_id) in allowed
        if room.room_id is None:
            return False  # a scoped token must name a room it may use
        if room.room_id in allowed:
            return True
        return await self._is_room_of_any(room.room_id, _lookup_order(allowed, hint))

    async def _is_room_of_any(self, room_id: str, creators: list[str]) -> bool:
        if self._resolve is None:
            return False
        for creator in creators[: self._max_lookups]:
            if await self._resolve(creator) == room_id:
                return True
        return False


def _lookup_order(allowed: list[str], hint: str | None) -> list[str]:
    """Creators worth looking up: valid unique ids, the caller's hint first when the token names it."""
    names = [c for c in dict.fromkeys(allowed) if normalise_unique_id(c) is not None]
    if hint is not None and _creator(hint) in names:
        names.remove(_creator(hint))
        names.insert(0, _creator(hint))
    return names
