"""Scenario files: what the emulated streamer, room and WebSocket do (format of webcast-protocol.md §5.2).

A scenario is YAML or JSON. Every key is optional; omitted keys take the defaults below. Timeline entries run
one after another once the client enters the room: ``after`` is the delay in seconds since the previous entry.
Fault injection lives under ``faults`` (see ``ttsign.emulator.faults``). ``stub_sign: true`` makes the emulator
also answer the sign-server routes (a harness self-test without the real server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from ttsign.emulator.faults import Faults

DEFAULT_SCENARIO = Path(__file__).with_name("scenarios") / "default.yaml"
DEFAULT_SESSION_ID = "emu0session0000000000000000000001"  # a test value, shaped like TikTok's 32-hex sessionid


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names each bad key and why."""


class _Model(BaseModel):
    # Unknown keys are typos in a test scenario: refuse them rather than silently ignoring them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Streamer(_Model):
    unique_id: str = "emu_streamer"
    user_id: str = "6900000000000000001"
    nickname: str = "Emu"
    room_id: str = "7390000000000000001"
    title: str = "Emulated live"


class Room(_Model):
    # blocked_html: the /@user/live page is a WAF page without SIGI_STATE, forcing the API fallback.
    state: Literal["live", "offline", "not_found", "age_restricted", "blocked_html"] = "live"


class UserSpec(_Model):
    id: int
    unique_id: str
    nickname: str = ""


class Reject(_Model):
    status: int = Field(default=400, ge=200, le=599)
    handshake_msg: str = "blocked"


class WsStrict(_Model):
    require_route_params_echo: bool = False
    require_cookie: str | None = "ttwid"


class WebsocketOptions(_Model):
    ping_interval_s: float = Field(default=1.0, gt=0)
    reject: Reject | None = None
    gzip: Literal["auto", "always", "never"] = "auto"
    need_ack: bool = True
    route_params: dict[str, str] = Field(default_factory=lambda: {"wrss": "emu-wrss"})
    strict: WsStrict = Field(default_factory=WsStrict)
    # If the client enters no room within this time the timeline starts anyway.
    enter_room_grace_s: float = Field(default=2.0, ge=0)
    # Optional: close a session whose client sent no heartbeat for this long (TikTok's real rule is unknown).
    heartbeat_timeout_s: float | None = Field(default=None, gt=0, le=600)
    heartbeat_timeout_close: int = Field(default=4001, ge=1000, le=4999)

    @model_validator(mode="after")
    def _route_params_non_empty(self) -> WebsocketOptions:
        if not self.route_params or not all(self.route_params.values()):
            raise ValueError("route_params needs at least one non-empty entry (clients refuse an empty map)")
        return self


class _Event(_Model):
    id: int | None = None
    after: float = Field(default=0.0, ge=0, le=600)
    user: str | None = None


class ChatEvent(_Event):
    type: Literal["chat"]
    content: str


class GiftSpec(_Model):
    id: int = 5655
    name: str = "Rose"
    diamond_count: int = 1
    type: int = 1


class GiftEvent(_Event):
    type: Literal["gift"]
    gift: GiftSpec = Field(default_factory=GiftSpec)
    repeat_count: int = 1
    repeat_end: bool = True
    to_user: str | None = None


class LikeEvent(_Event):
    type: Literal["like"]
    count: int = 1
    total: int = 1


class MemberEvent(_Event):
    type: Literal["member"]
    action: Literal["joined", "subscribed"] = "joined"
    member_count: int = 1


class FollowEvent(_Event):
    type: Literal["follow"]
    follow_count: int = 1


class ShareEvent(_Event):
    type: Literal["share"]
    share_count: int = 1
    share_type: int = 1


class SocialEvent(_Event):
    type: Literal["social"]
    action: int = 0


class RoomUserSeqEvent(_Event):
    type: Literal["room_user_seq"]
    total: int
    total_user: int = 0


class ControlEvent(_Event):
    type: Literal["control"]
    action: Literal["paused", "unpaused", "stream_ended", "stream_suspended"]


class RawEvent(_Event):
    type: Literal["raw"]
    method: str
    payload_b64: str = ""


def _event_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "batch" if "batch" in value else value.get("type")
    return "batch" if isinstance(value, BatchStep) else getattr(value, "type", None)


_Events: TypeAlias = (
    Annotated[ChatEvent, Tag("chat")]
    | Annotated[GiftEvent, Tag("gift")]
    | Annotated[LikeEvent, Tag("like")]
    | Annotated[MemberEvent, Tag("member")]
    | Annotated[FollowEvent, Tag("follow")]
    | Annotated[ShareEvent, Tag("share")]
    | Annotated[SocialEvent, Tag("social")]
    | Annotated[RoomUserSeqEvent, Tag("room_user_seq")]
    | Annotated[ControlEvent, Tag("control")]
    | Annotated[RawEvent, Tag("raw")]
)
EventSpec: TypeAlias = Annotated[_Events, Discriminator(_event_kind)]
Event: TypeAlias = (
    ChatEvent
    | GiftEvent
    | LikeEvent
    | MemberEvent
    | FollowEvent
    | ShareEvent
    | SocialEvent
    | RoomUserSeqEvent
    | ControlEvent
    | RawEvent
)


class BatchStep(_Model):
    """Several messages in one pushed frame."""

    id: int | None = None
    after: float = Field(default=0.0, ge=0, le=600)
    batch: list[EventSpec] = Field(min_length=1)


Step: TypeAlias = Annotated[_Events | Annotated[BatchStep, Tag("batch")], Discriminator(_event_kind)]


class End(_Model):
    """How a session ends: after a stream-end control message, or with an abnormal close after the timeline."""

    wait_client_close_s: float = Field(default=5.0, ge=0, le=60)
    then_close: int = Field(default=1000, ge=1000, le=4999)
    close: int | None = Field(default=None, ge=1000, le=4999)
    reason: str = ""


class StrictHttp(_Model):
    """How strictly /webcast/im/fetch/ is checked, and how a failure is answered.

    ``gnarly_versions`` and ``clock_skew_s`` model TikTok moving on: a signer version it no longer accepts,
    or a server clock far from the signer's, so a test can make a correctly computed signature fail.
    """

    reject_with: Literal["empty_200", "403"] = "empty_200"
    window_s: int = Field(default=300, gt=0)
    # X-Gnarly payload versions accepted; None = every version ttsign.signing knows.
    gnarly_versions: list[str] | None = Field(default=None, min_length=1)
    # Added to the emulator's clock for the timestamp-window checks (seconds, may be negative).
    clock_skew_s: int = Field(default=0, ge=-86_400, le=86_400)


class Since202609(_Model):
    """The tunable rules of the 2026-09 era (see ttsign.emulator.era)."""

    # Share of cookie-page requests that mint a ttwid (PirateTok: "only a fraction"); 1 = every one.
    ttwid_mint_fraction: float = Field(default=1 / 3, gt=0, le=1)
    # Socket connects one ttwid may make per hour before DEVICE_BLOCKED (all-chat observed about 15).
    socket_connects_per_hour: int = Field(default=15, ge=1)
    # X-Gnarly payload versions the push socket accepts in its query; None = it does not look (see era.py).
    socket_gnarly_versions: list[str] | None = Field(default=None, min_length=1)


class Scenario(_Model):
    streamer: Streamer = Field(default_factory=Streamer)
    room: Room = Field(default_factory=Room)
    users: dict[str, UserSpec] = Field(default_factory=dict)
    websocket: WebsocketOptions = Field(default_factory=WebsocketOptions)
    initial: list[Step] = Field(default_factory=list)
    timeline: list[Step] = Field(default_factory=list)
    end: End = Field(default_factory=End)
    strict: StrictHttp = Field(default_factory=StrictHttp)
    era_2026_09: Since202609 = Field(default_factory=Since202609)
    faults: Faults = Field(default_factory=Faults)
    stub_sign: bool = False
    # TikTok session ids (`sessionid` cookie) POST /webcast/room/chat/ accepts as logged in.
    sessions: list[str] = Field(default_factory=lambda: [DEFAULT_SESSION_ID])
    # Live rooms served: the streamer and rooms-1 numbered siblings (ttsign.emulator.rooms), for benchmarks.
    rooms: int = Field(default=1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _rooms_numbered(self) -> Scenario:
        if self.rooms > 1 and not (self.streamer.room_id.isdigit() and self.streamer.user_id.isdigit()):
            raise ValueError("rooms > 1 needs a numeric streamer.room_id and user_id (the siblings count up)")
        return self

    @model_validator(mode="after")
    def _users_exist(self) -> Scenario:
        for where, steps in (("initial", self.initial), ("timeline", self.timeline)):
            for index, step in enumerate(steps):
                for event in step.batch if isinstance(step, BatchStep) else [step]:
                    for ref in (event.user, getattr(event, "to_user", None)):
                        if ref is not None and ref not in self.users:
                            raise ValueError(f"{where}[{index}] names user {ref!r}, which is not under 'users'")
        return self


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{where}: {item['msg']}")
    return "; ".join(lines)


def parse_scenario(data: object) -> Scenario:
    """Validate a decoded scenario document; raises ScenarioError with every problem listed."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"a scenario must be a mapping at the top level, not {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"invalid scenario: {_describe(exc)}") from None


def load_scenario(path: Path | None) -> Scenario:
    """Read a YAML or JSON scenario file (JSON is YAML); None loads the shipped default."""
    source = path or DEFAULT_SCENARIO
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {source}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario {source} is not valid YAML/JSON: {exc}") from None
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
