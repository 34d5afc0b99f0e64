"""Webcast messages as Euler JSON events (relay/events.py): names, camelCase fields, numbers vs strings."""

from __future__ import annotations

from ttsign.proto import webcast_pb2 as pb
from ttsign.relay.events import ends_stream, event_of


def wrap(method: str, message: object) -> pb.BaseProtoMessage:
    return pb.BaseProtoMessage(method=method, payload=message.SerializeToString())  # type: ignore[attr-defined]


VIEWER = pb.User(id=1001, nickname="Viewer 1", display_id="viewer1", avatar_thumb=pb.ImageModel(url_list=["u"]))


def test_chat_uses_eulers_field_names() -> None:
    common = pb.CommonMessageData(method="WebcastChatMessage", msg_id=11, room_id=7390000000000000001, create_time=5)
    event = event_of(wrap("WebcastChatMessage", pb.WebcastChatMessage(common=common, user=VIEWER, content="hello")))
    assert event is not None
    assert event["type"] == "WebcastChatMessage"
    data = event["data"]
    assert data["comment"] == "hello"
    assert data["user"] == {"userId": "1001", "nickname": "Viewer 1", "uniqueId": "viewer1", "secUid": "",
                            "profilePicture": {"url": ["u"]}}  # fmt: skip
    # 64-bit ids are strings, as a ts-proto decoder gives them (a JS number would lose digits).
    assert (data["common"]["msgId"], data["common"]["roomId"]) == ("11", "7390000000000000001")


def test_gift_like_viewers_and_member_fields() -> None:
    rose = pb.Gift(id=5655, name="Rose", type=1, diamond_count=1)
    gift = pb.WebcastGiftMessage(gift_id=5655, repeat_count=3, repeat_end=1, user=VIEWER, gift=rose)
    data = event_of(wrap("WebcastGiftMessage", gift))["data"]  # type: ignore[index]
    assert (data["giftId"], data["repeatCount"], data["repeatEnd"]) == (5655, 3, 1)
    assert data["giftDetails"] == {"id": "5655", "giftName": "Rose", "giftType": 1, "diamondCount": 1, "combo": False}
    like = event_of(wrap("WebcastLikeMessage", pb.WebcastLikeMessage(count=15, total=1234)))["data"]  # type: ignore[index]
    assert (like["likeCount"], like["totalLikeCount"]) == (15, 1234)
    seq = event_of(wrap("WebcastRoomUserSeqMessage", pb.WebcastRoomUserSeqMessage(total=321, total_user=4567)))
    assert seq is not None and (seq["data"]["viewerCount"], seq["data"]["totalUser"]) == (321, 4567)
    member = pb.WebcastMemberMessage(action=pb.MEMBER_MESSAGE_ACTION_JOINED, member_count=77)
    assert event_of(wrap("WebcastMemberMessage", member))["data"] == {"action": 1, "memberCount": 77}  # type: ignore[index]


def test_defaults_are_present() -> None:
    data = event_of(wrap("WebcastLikeMessage", pb.WebcastLikeMessage()))["data"]  # type: ignore[index]
    assert data == {"likeCount": 0, "totalLikeCount": 0}


def test_unknown_methods_and_garbage_are_not_events() -> None:
    assert event_of(pb.BaseProtoMessage(method="WebcastXyzMessage", payload=b"\x08\x01")) is None
    assert event_of(pb.BaseProtoMessage(method="WebcastChatMessage", payload=b"\xff\xff")) is None


def test_stream_end_is_action_3_or_4_of_a_control_message() -> None:
    def control(action: int) -> pb.BaseProtoMessage:
        return wrap("WebcastControlMessage", pb.WebcastControlMessage(action=action))  # type: ignore[arg-type]

    assert [ends_stream(control(a)) for a in (1, 2, 3, 4)] == [False, False, True, True]
    assert not ends_stream(wrap("WebcastChatMessage", pb.WebcastChatMessage(content="x")))
    assert not ends_stream(pb.BaseProtoMessage(method="WebcastControlMessage", payload=b"\xff"))
