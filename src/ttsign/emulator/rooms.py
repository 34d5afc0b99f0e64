"""Many live rooms from one scenario (`rooms: N`): the scenario's streamer and N-1 numbered siblings.

Room 0 is the scenario's `streamer`; room i (1 <= i < N) is `<unique_id>_<i>` with the streamer's user id and
room id plus i. Every room is in the scenario's `room.state`, and each push socket plays the timeline (and
/__emu/push entries) with its own room's id in the messages, so a benchmark can watch a hundred rooms
through one emulator. With `rooms: 1` (the default) only the streamer exists, as before.
"""

from __future__ import annotations

from ttsign.emulator.scenario import Scenario, Streamer


def nth_streamer(scenario: Scenario, index: int) -> Streamer:
    base = scenario.streamer
    if index == 0:
        return base
    return base.model_copy(
        update={
            "unique_id": f"{base.unique_id}_{index}",
            "user_id": str(int(base.user_id) + index),
            "room_id": str(int(base.room_id) + index),
            "nickname": f"{base.nickname} {index}",
        }
    )


def streamer_named(scenario: Scenario, unique_id: str) -> Streamer | None:
    """The streamer with this unique id (any case, an optional @), or None."""
    name = unique_id.lstrip("@").lower()
    base = scenario.streamer.unique_id.lower()
    if name == base:
        return scenario.streamer
    prefix = base + "_"
    suffix = name.removeprefix(prefix)
    if name.startswith(prefix) and suffix.isdigit() and not suffix.startswith("0"):
        index = int(suffix)
        if index < scenario.rooms:
            return nth_streamer(scenario, index)
    return None


def streamer_of_room(scenario: Scenario, room_id: str) -> Streamer | None:
    """The streamer whose room has this id, or None."""
    if not room_id.isdigit() or not scenario.streamer.room_id.isdigit():
        return scenario.streamer if room_id == scenario.streamer.room_id else None
    index = int(room_id) - int(scenario.streamer.room_id)
    return nth_streamer(scenario, index) if 0 <= index < scenario.rooms else None
