"""The events the OLDER real clients emit for a scenario: mapping tables per version, like tests/e2e/expected.py.

Computed from the scenario document (plain dicts), independently of the emulator's code. Each entry is
(event name, msg_id or None). Versions not listed here behave exactly like their newer sibling:

| client                          | table                                   |
|---------------------------------|-----------------------------------------|
| TikTokLive 6.6.6                | expected.python_events (same as 7.0.1)  |
| tiktok-live-connector 2.3.0-b1  | expected.node_events (same as 2.5.0)    |
| TikTokLive 5.0.8                | py508_events below                      |
| tiktok-live-connector 1.2.3     | node12_events below                     |

TikTokLive 5.0.8 emits snake_case event names on a pyee emitter (``client.on("comment")``). The driver
python_client_508.py prints them under the 7.x names (PY508_NATIVE) and adds the original as "native":

| 5.0.8 event     | printed as  | scenario step (webcast message)                                                   |
|-----------------|-------------|-----------------------------------------------------------------------------------|
| connect         | Connect     | WebSocket open                                                                    |
| comment         | Comment     | chat (WebcastChatMessage)                                                         |
| gift            | Gift        | gift (WebcastGiftMessage)                                                         |
| like            | Like        | like (WebcastLikeMessage)                                                         |
| join            | Join        | member (WebcastMemberMessage)                                                     |
| follow          | Follow      | follow (WebcastSocialMessage, display key pm_main_follow_message_viewer_2)        |
| share/more_share| Share       | share, only for display keys pm_mt_guidance_share / ..._viewer_5|10_share         |
| unknown         | Unknown     | share with today's key pm_mt_guidance_viewer_3_share, social, raw, other methods |
| viewer_update   | RoomUserSeq | room_user_seq (WebcastRoomUserSeqMessage)                                         |
| disconnect      | Disconnect  | control stream_ended (action 3): 5.0.8 disconnects BEFORE it emits live_end       |
| live_end        | LiveEnd     | control stream_ended (action 3)                                                   |

5.0.8 specifics: its old schema has no common block, so no msg_id (entries carry None); the messages in the
first fetch result are dropped (it processes them before the WebSocket exists and skips them while
``self.websocket is None``); other control actions (paused, unpaused, suspended=4) raise nothing; a WebSocket
handshake failure is retried forever with backoff (the driver's timeout ends it).

tiktok-live-connector 1.2.3 (node-1.2/client.mjs) uses the 2.x event names but emits "social" AND the custom
follow/share event (social first), has no enterRoom/controlMessage events, and ends with streamEnd then
disconnected (no close code). Initial messages come before "connected", like 2.x. Its roomUser events have no
msg_id (no common block in its WebcastRoomUserSeqMessage).
"""

from __future__ import annotations

from typing import Any

from tests.e2e.expected import Expected

PY508_NATIVE = {
    "connect": "Connect",
    "disconnect": "Disconnect",
    "comment": "Comment",
    "gift": "Gift",
    "like": "Like",
    "join": "Join",
    "follow": "Follow",
    "share": "Share",
    "more_share": "Share",
    "viewer_update": "RoomUserSeq",
    "live_end": "LiveEnd",
    "unknown": "Unknown",
}
_PY508 = {
    "chat": ["Comment"],
    "gift": ["Gift"],
    "like": ["Like"],
    "member": ["Join"],
    "follow": ["Follow"],
    "share": ["Unknown"],  # the emulator sends today's share key, which 5.0.8 does not know
    "social": ["Unknown"],
    "room_user_seq": ["RoomUserSeq"],
    "raw": ["Unknown"],
}
_NODE12 = {
    "chat": ["chat"],
    "gift": ["gift"],
    "like": ["like"],
    "member": ["member"],
    "follow": ["social", "follow"],
    "share": ["social", "share"],
    "social": ["social"],
    "room_user_seq": ["roomUser"],
    "raw": [],
}
# 1.2.3's schema gives WebcastRoomUserSeqMessage no common block, so those events carry no msgId.
_NODE12_NO_ID = {"room_user_seq"}
_ENDS = ("stream_ended", "stream_suspended")


def _events(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step in steps:
        out.extend(step.get("batch", [step]))
    return out


def _ids(event: dict[str, Any]) -> str | None:
    return str(event["id"]) if event.get("id") is not None else None


def _node12_ids(event: dict[str, Any]) -> str | None:
    return None if event["type"] in _NODE12_NO_ID else _ids(event)


def py508_events(scenario: dict[str, Any]) -> Expected:
    """TikTokLive 5.0.8: Connect, the timeline (initial messages dropped), Disconnect then LiveEnd on action 3."""
    expected: Expected = [("Connect", None)]
    for event in _events(scenario.get("timeline", [])):
        if event["type"] == "control":
            if event["action"] == "stream_ended":  # action 3; 5.0.8 only ends on 3
                expected += [("Disconnect", None), ("LiveEnd", None)]
                break
            continue
        expected += [(name, None) for name in _PY508[event["type"]]]
    return expected


def node12_events(scenario: dict[str, Any]) -> Expected:
    """tiktok-live-connector 1.2.3: initial messages, connected, the timeline, streamEnd + disconnected."""
    expected: Expected = []
    for event in _events(scenario.get("initial", [])):
        expected += [(name, _node12_ids(event)) for name in _NODE12[event["type"]]]
    expected.append(("connected", None))
    for event in _events(scenario.get("timeline", [])):
        if event["type"] == "control":
            if event["action"] in _ENDS:  # actions 3 and 4
                expected += [("streamEnd", None), ("disconnected", None)]
                break
            continue
        expected += [(name, _node12_ids(event)) for name in _NODE12[event["type"]]]
    return expected
