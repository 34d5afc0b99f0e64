"""The events each real client should emit for a scenario, from the mapping table of webcast-protocol.md §3.4.

Computed from the scenario document itself (plain dicts), independently of the emulator's code.
Each entry is (event name, msg_id or None).
"""

from __future__ import annotations

from typing import Any

Expected = list[tuple[str, str | None]]

_PYTHON = {
    "chat": ["Comment"],
    "gift": ["Gift"],
    "like": ["Like"],
    "member": ["Join"],
    "follow": ["Follow", "Social"],  # the custom event comes first, then the proto event
    "share": ["Share", "Social"],
    "social": ["Social"],
    "room_user_seq": ["RoomUserSeq"],
    "raw": ["Unknown"],
}
_PYTHON_CONTROL = {
    "stream_ended": ["LiveEnd", "Control"],
    "stream_suspended": ["LiveEnd", "Control"],
    "paused": ["LivePause", "Control"],
    "unpaused": ["LiveUnpause", "Control"],
}
_NODE = {
    "chat": ["chat"],
    "gift": ["gift"],
    "like": ["like"],
    "member": ["member"],
    "follow": ["follow"],  # Node emits only the custom event for follow/share
    "share": ["share"],
    "social": ["social"],
    "room_user_seq": ["roomUser"],
    "raw": [],  # unknown methods are skipped silently
}
_ENDS = ("stream_ended", "stream_suspended")


def _events(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for step in steps:
        if "batch" in step:
            out.extend(step["batch"])
        else:
            out.append(step)
    return out


def _ids(event: dict[str, Any]) -> str | None:
    return str(event["id"]) if event.get("id") is not None else None


def python_events(scenario: dict[str, Any]) -> Expected:
    """TikTokLive 7.0.1: Connect, the initial messages, the timeline, and Disconnect after a stream end."""
    expected: Expected = [("Connect", None)]
    ended = False
    for event in _events(scenario.get("initial", [])) + _events(scenario.get("timeline", [])):
        if event["type"] == "control":
            expected += [(name, _ids(event)) for name in _PYTHON_CONTROL[event["action"]]]
            if event["action"] in _ENDS:
                ended = True
                break
        else:
            expected += [(name, _ids(event)) for name in _PYTHON[event["type"]]]
    if ended:
        expected.append(("Disconnect", None))
    return expected


def node_events(scenario: dict[str, Any]) -> Expected:
    """tiktok-live-connector 2.5.0: initial messages BEFORE connected, then enterRoom, the timeline, disconnected."""
    expected: Expected = []
    for event in _events(scenario.get("initial", [])):
        expected += [(name, _ids(event)) for name in _NODE[event["type"]]]
    expected += [("connected", None), ("enterRoom", None)]
    for event in _events(scenario.get("timeline", [])):
        if event["type"] == "control":
            expected.append(("controlMessage", _ids(event)))
            if event["action"] in _ENDS:
                expected += [("streamEnd", None), ("disconnected", None)]
                break
        else:
            expected += [(name, _ids(event)) for name in _NODE[event["type"]]]
    return expected
