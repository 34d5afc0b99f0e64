"""The www/webcast HTML and JSON routes, read the way the clients read them."""

from __future__ import annotations

import json
import re
from typing import Any

from ttsign.signing import is_valid_ms_token

SIGI = re.compile(r'<script id="SIGI_STATE" type="application/json">(.*?)</script>')  # no DOTALL, like clients
UNIVERSAL = re.compile(r'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">(.*?)</script>')
ROOM = "7390000000000000001"


def sigi(html: str) -> dict[str, Any]:
    match = SIGI.search(html)
    assert match, "SIGI_STATE must be on one line"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


async def test_cookie_path_issues_host_only_ttwid_and_mstoken(start_emulator) -> None:
    emu = await start_emulator()
    response = await emu.http.get("/")
    cookies = response.headers.get_list("set-cookie")
    assert {c.split("=", 1)[0] for c in cookies} == {"ttwid", "msToken"}
    assert all("domain=" not in c.lower() for c in cookies)
    assert emu.emu.cookies.is_issued(response.cookies["ttwid"])
    assert is_valid_ms_token(response.cookies["msToken"])
    assert not emu.emu.cookies.is_issued(response.cookies["ttwid"][:-2] + "00")


async def test_live_page_for_each_room_state(start_emulator) -> None:
    emu = await start_emulator()
    page = await emu.http.get("/@emu_streamer/live")
    user = sigi(page.text)["LiveRoom"]["liveRoomUserInfo"]["user"]
    assert (user["roomId"], user["status"], user["uniqueId"]) == (ROOM, 2, "emu_streamer")
    assert page.cookies.get("ttwid")

    missing = await emu.http.get("/@somebody_else/live")
    assert "LiveRoom" not in sigi(missing.text)

    offline = await start_emulator({"room": {"state": "offline"}})
    info = sigi((await offline.http.get("/@emu_streamer/live")).text)["LiveRoom"]["liveRoomUserInfo"]
    assert info["user"]["status"] == 4
    assert info["liveRoom"]["status"] == 4

    blocked = await start_emulator({"room": {"state": "blocked_html"}})
    assert not SIGI.search((await blocked.http.get("/@emu_streamer/live")).text)


async def test_user_id_page_names_the_unique_id(start_emulator) -> None:
    emu = await start_emulator()
    page = await emu.http.get("/@6900000000000000001")
    data = json.loads(UNIVERSAL.search(page.text).group(1))  # type: ignore[union-attr]
    assert data["__DEFAULT_SCOPE__"]["webapp.user-detail"]["userInfo"]["user"]["uniqueId"] == "emu_streamer"
    assert (await emu.http.get("/@123")).status_code == 404


async def test_api_live_room_found_and_not_found(start_emulator) -> None:
    emu = await start_emulator()
    found = (await emu.http.get("/api-live/user/room/", params={"uniqueId": "emu_streamer", "sourceType": 54})).json()
    assert found["message"] == ""
    assert found["statusCode"] == 0
    assert found["data"]["user"]["roomId"] == ROOM
    assert found["data"]["liveRoom"]["status"] == 2
    missing = (await emu.http.get("/api-live/user/room/", params={"uniqueId": "nobody"})).json()
    assert missing["message"] == "user_not_found"
    assert missing["statusCode"]


async def test_check_alive_room_info_gift_list(start_emulator) -> None:
    emu = await start_emulator()
    alive = (await emu.http.get("/webcast/room/check_alive/", params={"room_ids": ROOM})).json()
    assert alive["data"] == [{"alive": True, "room_id": int(ROOM), "room_id_str": ROOM}]
    info = (await emu.http.get("/webcast/room/info/", params={"room_id": ROOM, "junk": "1"})).json()["data"]
    assert info["status"] == 2
    assert len(info) > 1
    assert "prompts" not in info
    by_user = (await emu.http.get("/webcast/room/info_by_user/", params={"unique_id": "emu_streamer"})).json()
    assert by_user["data"]["id_str"] == ROOM
    gifts = (await emu.http.get("/webcast/gift/list/")).json()["data"]["gifts"]
    assert any(g["id"] == 5655 and g["name"] == "Rose" for g in gifts)

    offline = await start_emulator({"room": {"state": "offline"}})
    dead = (await offline.http.get("/webcast/room/check_alive/", params={"room_ids": ROOM})).json()
    assert dead["data"][0]["alive"] is False
    assert (await offline.http.get("/webcast/room/info/", params={"room_id": ROOM})).json()["data"]["status"] == 4

    restricted = await start_emulator({"room": {"state": "age_restricted"}})
    data = (await restricted.http.get("/webcast/room/info/", params={"room_id": ROOM})).json()["data"]
    assert "prompts" in data


async def test_unknown_routes_are_404_and_logged_with_multimap_query(start_emulator) -> None:
    emu = await start_emulator()
    response = await emu.http.get("/webcast/brand_new/?a=1&a=2&msToken=secretvalue")
    assert response.status_code == 404
    entry = [e for e in await emu.log("http") if e["path"] == "/webcast/brand_new/"][-1]
    assert entry["route"] == "unknown"
    assert entry["status"] == 404
    assert entry["query"][:2] == [["a", "1"], ["a", "2"]]
    assert "secretvalue" not in json.dumps(entry)


async def test_stub_sign_routes_only_when_enabled(start_emulator) -> None:
    emu = await start_emulator()
    assert (await emu.http.get("/webcast/fetch", params={"room_id": ROOM})).status_code == 404
    stub = await start_emulator({"stub_sign": True})
    response = await stub.http.get("/webcast/fetch", params={"room_id": ROOM, "client": "ttlive-python"})
    assert response.status_code == 200
    assert response.headers["x-set-tt-cookie"].startswith("ttwid=")
    assert response.headers["x-room-id"] == ROOM
    node = await stub.http.get(f"/webcast/rooms/{ROOM}/connect", params={"client": "ttlive-node"})
    assert node.status_code == 200
    assert node.content
    gone = await stub.http.get("/webcast/rooms/1/connect")
    assert (gone.status_code, gone.json()["reason"]) == (404, "room_not_found")
    signed = await stub.http.post(
        "/tiktok/sign_url", json={"url": "https://webcast.tiktok.com/webcast/gift/list/?aid=1988"}
    )
    body = signed.json()["response"]
    assert "msToken=" in body["signedUrl"]
    assert body["tokens"]["X-Bogus"]
