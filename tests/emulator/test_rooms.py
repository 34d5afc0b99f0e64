"""Many rooms from one scenario (`rooms: N`): the siblings' pages, room lookups and push sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.emulator.test_push import enter_room, read_frame, result_of
from ttsign.emulator import pages
from ttsign.emulator.rooms import streamer_named, streamer_of_room
from ttsign.emulator.scenario import ScenarioError, parse_scenario
from ttsign.proto import webcast_pb2 as pb

BASE_ROOM = 7390000000000000001
WS = "/webcast/im/ws_proxy/ws_reuse_supplement/"
SCENARIO: dict[str, Any] = {
    "rooms": 3,
    "users": {"u1": {"id": 1001, "unique_id": "viewer1"}},
    "timeline": [{"id": 11, "after": 0.05, "type": "chat", "user": "u1", "content": "hello"}],
}


def test_siblings_are_numbered_after_the_streamer_and_stop_at_the_count() -> None:
    scenario = parse_scenario(SCENARIO)
    second = streamer_named(scenario, "@EMU_STREAMER_2")
    assert second is not None
    assert (second.unique_id, second.room_id, second.user_id) == (
        "emu_streamer_2",
        str(BASE_ROOM + 2),
        "6900000000000000003",
    )
    assert streamer_named(scenario, "emu_streamer") == scenario.streamer
    for unknown in ("emu_streamer_3", "emu_streamer_0", "emu_streamer_01", "emu_streamer_x", "other_1"):
        assert streamer_named(scenario, unknown) is None, unknown
    found = streamer_of_room(scenario, str(BASE_ROOM + 1))
    assert found is not None and found.unique_id == "emu_streamer_1"
    assert streamer_of_room(scenario, str(BASE_ROOM + 3)) is None
    assert streamer_of_room(scenario, str(BASE_ROOM - 1)) is None


def test_one_room_by_default_serves_only_the_streamer() -> None:
    scenario = parse_scenario({})
    assert pages.is_room(scenario, str(BASE_ROOM))
    assert not pages.is_room(scenario, str(BASE_ROOM + 1))
    assert not pages.is_streamer(scenario, "emu_streamer_1")


def test_a_sibling_has_its_own_page_and_room_info() -> None:
    scenario = parse_scenario(SCENARIO)
    info = pages.room_info(scenario, str(BASE_ROOM + 2), None)
    assert (info["status_code"], info["data"]["id_str"], info["data"]["owner"]["display_id"]) == (
        0,
        str(BASE_ROOM + 2),
        "emu_streamer_2",
    )
    by_user = pages.api_live_room(scenario, "emu_streamer_1")
    assert by_user["data"]["user"]["roomId"] == str(BASE_ROOM + 1)
    assert f'"roomId":"{BASE_ROOM + 1}"' in pages.live_html(scenario, "emu_streamer_1").replace(" ", "")
    assert pages.api_live_room(scenario, "emu_streamer_3")["message"] == "user_not_found"


def test_many_rooms_need_numeric_ids() -> None:
    with pytest.raises(ScenarioError, match="rooms > 1"):
        parse_scenario({"rooms": 2, "streamer": {"room_id": "abc"}})


async def test_each_push_socket_plays_the_timeline_with_its_own_room_id(start_emulator) -> None:
    emu = await start_emulator(SCENARIO, strict=False)

    async def first_chat_room(room: int) -> int:
        url = emu.url.replace("http://", "ws://") + WS + f"?room_id={room}&wrss=emu-wrss"
        async with connect(url, open_timeout=5) as ws:
            await ws.send(enter_room())
            assert (await read_frame(ws)).payload_type == "im_enter_room_resp"
            message = result_of(await read_frame(ws)).messages[0]
            return int(pb.WebcastChatMessage.FromString(message.payload).common.room_id)

    rooms = await asyncio.gather(*(first_chat_room(BASE_ROOM + i) for i in range(3)))
    assert rooms == [BASE_ROOM, BASE_ROOM + 1, BASE_ROOM + 2]
    opened = await emu.log("ws_open")
    assert sorted(entry["room_id"] for entry in opened) == [str(BASE_ROOM + i) for i in range(3)]


async def test_im_fetch_answers_for_a_sibling_room_and_refuses_one_past_the_count(start_emulator) -> None:
    emu = await start_emulator(SCENARIO, strict=False)
    sibling = str(BASE_ROOM + 2)
    response = await emu.http.get("/webcast/im/fetch/?room_id=" + sibling)
    assert response.status_code == 200
    result = pb.ProtoMessageFetchResult.FromString(response.content)
    assert f"wss_push_room_id:{sibling}|" in result.internal_ext
    past = await emu.http.get(f"/webcast/im/fetch/?room_id={BASE_ROOM + 3}")
    assert past.json()["status_code"] == 30001  # room not found
