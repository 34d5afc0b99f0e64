"""Our own webcast schema must be wire-compatible with what the real clients decode.

The client's generated classes (TikTokLiveProto, a test-only dependency pulled in by TikTokLive) decode our
bytes here; a wrong field number or wire type shows up as a missing value or a decode error.
"""

from __future__ import annotations

import pytest

from ttsign.proto import webcast_pb2 as pb

client_proto = pytest.importorskip("TikTokLive.proto")


def _user() -> pb.User:
    return pb.User(id=1001, nickname="Viewer 1", display_id="viewer1", sec_uid="sec-1")


def test_fetch_result_round_trips_through_client_schema() -> None:
    chat = pb.WebcastChatMessage(
        common=pb.CommonMessageData(method="WebcastChatMessage", msg_id=11, room_id=7390),
        user=_user(),
        content="hi",
    )
    result = pb.ProtoMessageFetchResult(
        messages=[pb.BaseProtoMessage(method="WebcastChatMessage", payload=chat.SerializeToString(), msg_id=11)],
        cursor="c-1",
        fetch_interval=1000,
        now=1_700_000_000_000,
        internal_ext="ie-1",
        route_params={"wrss": "emu-wrss"},
        need_ack=True,
        push_server="ws://127.0.0.1:1/webcast/im/ws_proxy/ws_reuse_supplement/",
        is_first=True,
    )
    decoded = client_proto.ProtoMessageFetchResult().parse(result.SerializeToString())
    assert decoded.cursor == "c-1"
    assert decoded.internal_ext == "ie-1"
    assert dict(decoded.route_params) == {"wrss": "emu-wrss"}
    assert decoded.need_ack is True
    assert decoded.is_first is True
    assert decoded.push_server.startswith("ws://127.0.0.1:1/")
    assert decoded.messages[0].method == "WebcastChatMessage"
    chat_back = client_proto.WebcastChatMessage().parse(decoded.messages[0].payload)
    assert chat_back.content == "hi"
    assert chat_back.user.display_id == "viewer1"
    assert chat_back.user.nickname == "Viewer 1"
    assert chat_back.common.msg_id == 11


def test_gift_and_social_fields_decode() -> None:
    gift = pb.WebcastGiftMessage(
        common=pb.CommonMessageData(msg_id=12),
        gift_id=5655,
        repeat_count=3,
        combo_count=3,
        user=_user(),
        repeat_end=1,
        group_id=77,
        gift=pb.Gift(id=5655, name="Rose", diamond_count=1, type=1, combo=True),
    )
    g = client_proto.WebcastGiftMessage().parse(gift.SerializeToString())
    assert (g.gift_id, g.repeat_count, g.repeat_end, g.group_id) == (5655, 3, 1, 77)
    assert (g.gift.id, g.gift.name, g.gift.diamond_count, g.gift.type) == (5655, "Rose", 1, 1)

    social = pb.WebcastSocialMessage(
        common=pb.CommonMessageData(display_text=pb.Text(key="pm_mt_guidance_viewer_3_share")),
        user=_user(),
        share_type=1,
        action=3,
        share_count=5,
    )
    s = client_proto.WebcastSocialMessage().parse(social.SerializeToString())
    assert s.common.display_text.key == "pm_mt_guidance_viewer_3_share"
    assert (s.action, s.share_count) == (3, 5)


def test_frame_and_client_messages_decode_both_ways() -> None:
    frame = pb.WebcastPushFrame(
        log_id=9001,
        payload_encoding="pb",
        payload_type="msg",
        headers=[pb.PushHeader(key="compress_type", value="gzip")],
        payload=b"\x01\x02",
    )
    f = client_proto.WebcastPushFrame().parse(frame.SerializeToString())
    assert (f.log_id, f.payload_type, f.payload_encoding, f.payload) == (9001, "msg", "pb", b"\x01\x02")
    assert [(h.key, h.value) for h in f.headers] == [("compress_type", "gzip")]

    # Client -> server direction: bytes the client builds must parse with our schema.
    enter = client_proto.WebcastImEnterRoomMessage(room_id=7390, live_id=12, identity="audience")
    ours = pb.WebcastImEnterRoomMessage.FromString(bytes(enter))
    assert (ours.room_id, ours.live_id, ours.identity) == (7390, 12, "audience")
    hb = client_proto.HeartBeatMessage(room_id=7390, send_packet_seq_id=4)
    ours_hb = pb.HeartBeatMessage.FromString(bytes(hb))
    assert (ours_hb.room_id, ours_hb.send_packet_seq_id) == (7390, 4)


def test_control_and_member_enums_match() -> None:
    ctrl = client_proto.WebcastControlMessage().parse(
        pb.WebcastControlMessage(action=pb.CONTROL_ACTION_STREAM_ENDED).SerializeToString()
    )
    assert int(ctrl.action) == 3
    member = client_proto.WebcastMemberMessage().parse(
        pb.WebcastMemberMessage(action=pb.MEMBER_MESSAGE_ACTION_JOINED, member_count=77).SerializeToString()
    )
    assert int(member.action) == 1
    assert member.member_count == 77


def test_generated_module_matches_the_schema(tmp_path) -> None:
    """The committed webcast_pb2.py/.pyi are what `make proto` produces from webcast.proto (not stale)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("grpc_tools")
    src = Path(__file__).resolve().parents[2] / "src"
    plugin = shutil.which("protoc-gen-mypy") or str(Path(sys.executable).parent / "protoc-gen-mypy")
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{src}",
            f"--plugin=protoc-gen-mypy={plugin}",
            f"--python_out={out}",
            f"--mypy_out={out}",
            str(src / "ttsign" / "proto" / "webcast.proto"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for name in ("webcast_pb2.py", "webcast_pb2.pyi"):
        fresh = (out / "ttsign" / "proto" / name).read_text()
        assert fresh == (src / "ttsign" / "proto" / name).read_text(), f"{name} is stale: run `make proto`"
