"""Room-level input rules shared by the use cases: what a room id, cursor or internal_ext may look like."""

from __future__ import annotations

import re

# Room ids are positive int64 values: at most 19 digits and at most 2^63 - 1.
_ROOM_ID = re.compile(r"[1-9][0-9]{0,18}")
_INT64_MAX = 2**63 - 1
_OPAQUE_MAX = 4096
_OPAQUE = re.compile(r"[\x21-\x7e]*")  # printable ASCII, no spaces: TikTok's cursors and internal_ext


class InvalidInput(ValueError):
    """The caller sent something we will not forward to TikTok. `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_room_id(room_id: str) -> str:
    room_id = room_id.strip()
    if not room_id:
        raise InvalidInput("room_id", "missing")
    if not _ROOM_ID.fullmatch(room_id) or int(room_id) > _INT64_MAX:
        raise InvalidInput("room_id", "must be a positive 64-bit integer")
    return room_id


def check_opaque(field: str, value: str) -> str:
    """Cursor-like tokens: passed through verbatim, but bounded and printable."""
    if len(value) > _OPAQUE_MAX:
        raise InvalidInput(field, f"longer than {_OPAQUE_MAX} characters")
    if not _OPAQUE.fullmatch(value):
        raise InvalidInput(field, "must be printable ASCII without spaces")
    return value
