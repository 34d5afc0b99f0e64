"""POST /webcast/room/chat/: strict like im/fetch, then a session from the scenario, then a live room."""

from __future__ import annotations

import json
import random
import time
from urllib.parse import quote, urlencode

import pytest

from ttsign.emulator.scenario import DEFAULT_SESSION_ID
from ttsign.signing import default_profile, sign_request

ROOM = "7390000000000000001"
SESSION = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4"


def signed_chat(running, content: str, room: str = ROOM) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    profile = default_profile()
    params = {"aid": "1988", "app_name": "tiktok_web", **profile.browser_query(), "room_id": room, "content": content}
    url = "https://webcast.tiktok.com/webcast/room/chat/?" + urlencode(params, quote_via=quote)
    signed = sign_request(
        "POST",
        url,
        "",
        profile,
        now_ms=int(time.time() * 1000),
        rng=random.Random(3),
        ms_token=running.emu.cookies.issue_ms_token(),
    )
    return signed.url.split("webcast.tiktok.com", 1)[1], profile.user_agent


async def post(running, content: str, cookie: str, room: str = ROOM):  # type: ignore[no-untyped-def]
    path, ua = signed_chat(running, content, room)
    return await running.http.post(path, headers={"User-Agent": ua, "Cookie": cookie})


async def test_a_signed_chat_with_a_known_session_is_accepted_and_logged(start_emulator) -> None:
    emu = await start_emulator({"sessions": [SESSION]})
    ttwid = await emu.ttwid()
    response = await post(emu, "hi there", f"ttwid={ttwid}; sessionid={SESSION}; tt-target-idc=useast5")
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 0 and body["data"]["content"] == "hi there" and body["data"]["msg_id"]
    chat = (await emu.log("chat"))[-1]
    assert (chat["room_id"], chat["content"], chat["msg_id"]) == (ROOM, "hi there", body["data"]["msg_id"])
    everything = json.dumps(await emu.log())
    assert SESSION not in everything and "sessionid" in everything  # the cookie by name, never its value


async def test_the_default_scenario_accepts_its_test_session(start_emulator) -> None:
    emu = await start_emulator()
    ttwid = await emu.ttwid()
    response = await post(emu, "hi", f"ttwid={ttwid}; sessionid={DEFAULT_SESSION_ID}")
    assert response.json()["status_code"] == 0


@pytest.mark.parametrize("session", ["", "sessionid=someone-else"])
async def test_without_a_valid_session_login_is_required(start_emulator, session: str) -> None:
    emu = await start_emulator({"sessions": [SESSION]})
    ttwid = await emu.ttwid()
    response = await post(emu, "hi", f"ttwid={ttwid}; {session}".rstrip("; "))
    assert response.json() == {"status_code": 20003, "message": "login required", "data": {}}
    assert not await emu.log("chat")
    assert (await emu.log("chat_reject"))[-1]["reason"] == "login_required"


async def test_a_bad_signature_is_refused_before_the_session_is_looked_at(start_emulator) -> None:
    emu = await start_emulator({"sessions": [SESSION]})
    ttwid = await emu.ttwid()
    path, ua = signed_chat(emu, "hi")
    tampered = path.replace("content=hi", "content=ho")
    response = await emu.http.post(
        tampered, headers={"User-Agent": ua, "Cookie": f"ttwid={ttwid}; sessionid={SESSION}"}
    )
    assert (response.status_code, response.content) == (200, b"")
    assert (await emu.log("strict_reject"))[-1]["path"] == "/webcast/room/chat/"
    assert not await emu.log("chat")


async def test_unknown_and_offline_rooms(start_emulator) -> None:
    emu = await start_emulator({"sessions": [SESSION]})
    ttwid = await emu.ttwid()
    cookie = f"ttwid={ttwid}; sessionid={SESSION}"
    assert (await post(emu, "hi", cookie, room="42")).json()["status_code"] == 30001
    offline = await start_emulator({"sessions": [SESSION], "room": {"state": "offline"}})
    ttwid = await offline.ttwid()
    assert (await post(offline, "hi", f"ttwid={ttwid}; sessionid={SESSION}")).json()["status_code"] == 30003


async def test_chat_faults_are_injectable(start_emulator) -> None:
    emu = await start_emulator({"faults": {"room_chat": {"status_5xx": 503}}})
    ttwid = await emu.ttwid()
    assert (await post(emu, "hi", f"ttwid={ttwid}; sessionid={DEFAULT_SESSION_ID}")).status_code == 503
