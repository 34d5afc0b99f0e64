"""Scenario events to webcast protobuf messages, and the fetch results that carry them."""

from __future__ import annotations

import base64
import time

from ttsign.emulator.scenario import (
    BatchStep,
    ChatEvent,
    ControlEvent,
    Event,
    FollowEvent,
    GiftEvent,
    LikeEvent,
    MemberEvent,
    RawEvent,
    RoomUserSeqEvent,
    Scenario,
    ShareEvent,
    SocialEvent,
    Step,
)
from ttsign.proto import webcast_pb2 as pb

# The clients sniff these display_text keys to raise Follow/Share events (spec §3.4).
FOLLOW_KEY = "pm_main_follow_message_viewer_2"
SHARE_KEY = "pm_mt_guidance_viewer_3_share"

_CONTROL = {
    "paused": pb.CONTROL_ACTION_STREAM_PAUSED,
    "unpaused": pb.CONTROL_ACTION_STREAM_UNPAUSED,
    "stream_ended": pb.CONTROL_ACTION_STREAM_ENDED,
    "stream_suspended": pb.CONTROL_ACTION_STREAM_SUSPENDED,
}
_MEMBER = {"joined": pb.MEMBER_MESSAGE_ACTION_JOINED, "subscribed": pb.MEMBER_MESSAGE_ACTION_SUBSCRIBED}


def now_ms() -> int:
    return int(time.time() * 1000)


def ends_stream(step: Step) -> bool:
    events = step.batch if isinstance(step, BatchStep) else [step]
    return any(isinstance(e, ControlEvent) and e.action in ("stream_ended", "stream_suspended") for e in events)


class MessageFactory:
    """Builds messages for one scenario's room (the streamer's unless `room_id` names another of its rooms);
    ids are the scenario's, or generated when an event has none."""

    def __init__(self, scenario: Scenario, room_id: str | None = None) -> None:
        self._scenario = scenario
        self._room_id = int(room_id or scenario.streamer.room_id)
        self._auto_id = 1_000_000

    def _user(self, ref: str | None) -> pb.User | None:
        if ref is None:
            return None
        spec = self._scenario.users[ref]
        return pb.User(
            id=spec.id,
            nickname=spec.nickname or spec.unique_id,
            display_id=spec.unique_id,
            sec_uid=f"MS4wLjABAAAA-emu-{spec.id}",
            avatar_thumb=pb.ImageModel(url_list=[f"https://p16-sign.tiktokcdn-us.com/emu/{spec.id}.webp"]),
        )

    def _common(self, method: str, msg_id: int, key: str = "") -> pb.CommonMessageData:
        common = pb.CommonMessageData(method=method, msg_id=msg_id, room_id=self._room_id, create_time=now_ms())
        if key:
            common.display_text.key = key
        return common

    def message(self, event: Event, msg_id: int | None = None) -> pb.BaseProtoMessage:
        if msg_id is None:
            msg_id = event.id if event.id is not None else self._next_id()
        method, payload = self._encode(event, msg_id)
        return pb.BaseProtoMessage(method=method, payload=payload, msg_id=msg_id)

    def messages(self, step: Step) -> list[pb.BaseProtoMessage]:
        if not isinstance(step, BatchStep):
            return [self.message(step)]
        return [self.message(event) for event in step.batch]

    def _next_id(self) -> int:
        self._auto_id += 1
        return self._auto_id

    def _encode(self, event: Event, msg_id: int) -> tuple[str, bytes]:
        user = self._user(event.user)
        if isinstance(event, ChatEvent):
            m = "WebcastChatMessage"
            return m, pb.WebcastChatMessage(
                common=self._common(m, msg_id), user=user, content=event.content
            ).SerializeToString()
        if isinstance(event, GiftEvent):
            return self._gift(event, msg_id, user)
        if isinstance(event, LikeEvent):
            m = "WebcastLikeMessage"
            return m, pb.WebcastLikeMessage(
                common=self._common(m, msg_id), count=event.count, total=event.total, user=user
            ).SerializeToString()
        if isinstance(event, MemberEvent):
            m = "WebcastMemberMessage"
            return m, pb.WebcastMemberMessage(
                common=self._common(m, msg_id),
                user=user,
                member_count=event.member_count,
                action=_MEMBER[event.action],
            ).SerializeToString()
        if isinstance(event, FollowEvent | ShareEvent | SocialEvent):
            return self._social(event, msg_id, user)
        if isinstance(event, RoomUserSeqEvent):
            m = "WebcastRoomUserSeqMessage"
            return m, pb.WebcastRoomUserSeqMessage(
                common=self._common(m, msg_id), total=event.total, total_user=event.total_user
            ).SerializeToString()
        if isinstance(event, ControlEvent):
            m = "WebcastControlMessage"
            return m, pb.WebcastControlMessage(
                common=self._common(m, msg_id), action=_CONTROL[event.action]
            ).SerializeToString()
        assert isinstance(event, RawEvent)
        return event.method, base64.b64decode(event.payload_b64)

    def _gift(self, event: GiftEvent, msg_id: int, user: pb.User | None) -> tuple[str, bytes]:
        m = "WebcastGiftMessage"
        spec = event.gift
        gift = pb.Gift(
            id=spec.id,
            name=spec.name,
            diamond_count=spec.diamond_count,
            type=spec.type,
            combo=spec.type == 1,
            image=pb.ImageModel(url_list=[f"https://p16-webcast.tiktokcdn.com/emu/gift/{spec.id}.png"]),
        )
        return m, pb.WebcastGiftMessage(
            common=self._common(m, msg_id),
            gift_id=spec.id,
            repeat_count=event.repeat_count,
            combo_count=event.repeat_count,
            user=user,
            to_user=self._user(event.to_user),
            repeat_end=1 if event.repeat_end else 0,
            group_id=msg_id,
            gift=gift,
        ).SerializeToString()

    def _social(
        self, event: FollowEvent | ShareEvent | SocialEvent, msg_id: int, user: pb.User | None
    ) -> tuple[str, bytes]:
        m = "WebcastSocialMessage"
        if isinstance(event, FollowEvent):
            msg = pb.WebcastSocialMessage(
                common=self._common(m, msg_id, FOLLOW_KEY),
                user=user,
                action=1,
                follow_count=event.follow_count,
            )
        elif isinstance(event, ShareEvent):
            msg = pb.WebcastSocialMessage(
                common=self._common(m, msg_id, SHARE_KEY),
                user=user,
                action=3,
                share_type=event.share_type,
                share_count=event.share_count,
            )
        else:
            msg = pb.WebcastSocialMessage(common=self._common(m, msg_id), user=user, action=event.action)
        return m, msg.SerializeToString()


def initial_result(
    scenario: Scenario, factory: MessageFactory, push_server: str, *, cursor: str, internal_ext: str
) -> pb.ProtoMessageFetchResult:
    """The first fetch result (HTTP im/fetch and the stub sign routes): is_first, cursor and push_server set."""
    messages = [msg for step in scenario.initial for msg in factory.messages(step)]
    return pb.ProtoMessageFetchResult(
        messages=messages,
        cursor=cursor,
        fetch_interval=1000,
        now=now_ms(),
        internal_ext=internal_ext,
        fetch_type=1,
        route_params=dict(scenario.websocket.route_params),
        heartbeat_duration=10_000,
        need_ack=False,
        push_server=push_server,
        is_first=True,
    )


def pushed_result(messages: list[pb.BaseProtoMessage], n: int, need_ack: bool) -> pb.ProtoMessageFetchResult:
    """A fetch result for the n-th pushed frame of a session (cursor c-n, internal_ext ie-n)."""
    return pb.ProtoMessageFetchResult(
        messages=messages,
        cursor=f"c-{n}",
        fetch_interval=1000,
        now=now_ms(),
        internal_ext=f"ie-{n}",
        fetch_type=1,
        need_ack=need_ack,
        is_first=False,
    )
