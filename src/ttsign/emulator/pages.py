"""Bodies of the www.tiktok.com and webcast.tiktok.com HTML/JSON routes, per room state (spec §1.4).

Pure functions of the scenario (and the request's query), so they are easy to test and reason about. The
JSON inside <script> tags is written on ONE line: the clients' regexes have no DOTALL flag.
"""

from __future__ import annotations

import json
from typing import Any

from ttsign.emulator.rooms import streamer_named, streamer_of_room
from ttsign.emulator.scenario import Scenario

LIVE, ENDED = 2, 4
NOT_FOUND_CODE = 10202
# TikTok's own account: every scenario has it, as every TikTok does (sign servers bootstrap from /@tiktok).
OFFICIAL_ACCOUNT = ("107955", "tiktok", "TikTok")


def _script(script_id: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    return f'<script id="{script_id}" type="application/json">{payload}</script>'


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{body}</body></html>"
    )


def _status(scenario: Scenario) -> int:
    return ENDED if scenario.room.state == "offline" else LIVE


def is_streamer(scenario: Scenario, unique_id: str) -> bool:
    return scenario.room.state != "not_found" and streamer_named(scenario, unique_id) is not None


def is_room(scenario: Scenario, room_id: str) -> bool:
    return scenario.room.state != "not_found" and streamer_of_room(scenario, room_id) is not None


def page_script_cookie(name: str, value: str) -> str:
    """The live page's script that sets a cookie in the browser: only a client that runs it has the cookie."""
    return f'<script>document.cookie="{name}={value}; path=/";</script>'


def live_html(scenario: Scenario, unique_id: str, script: str = "") -> str:
    """GET /@{user}/live: SIGI_STATE with LiveRoom (and the page's `script`), or without it when the user
    does not exist."""
    if scenario.room.state == "blocked_html":
        return _page("Access Denied", "<h1>Access Denied</h1><p>Please verify you are human.</p>")
    s = streamer_named(scenario, unique_id)
    if s is None or not is_streamer(scenario, unique_id):
        state: dict[str, Any] = {"AppContext": {"appContext": {"language": "en"}}}
        return _page("TikTok LIVE", _script("SIGI_STATE", state))
    status = _status(scenario)
    user = {
        "id": s.user_id,
        "uniqueId": s.unique_id,
        "nickname": s.nickname,
        "roomId": s.room_id,
        "status": status,
        "secUid": f"MS4wLjABAAAA-emu-{s.user_id}",
    }
    state = {
        "AppContext": {"appContext": {"language": "en"}},
        "LiveRoom": {
            "liveRoomUserInfo": {"user": user, "liveRoom": {"status": status, "title": s.title}},
            "loadingState": {"getRoomInfo": 1},
        },
    }
    return _page(f"{s.nickname} (@{s.unique_id}) is LIVE", _script("SIGI_STATE", state) + script)


def user_html(scenario: Scenario, user_id: str) -> str | None:
    """GET /@{numeric id}: __UNIVERSAL_DATA_FOR_REHYDRATION__ naming the unique id; None if unknown."""
    s = scenario.streamer
    if user_id.lower() == OFFICIAL_ACCOUNT[1]:
        user_id, unique_id, nickname = OFFICIAL_ACCOUNT
    elif scenario.room.state == "not_found" or user_id not in (s.user_id, s.unique_id):
        return None
    else:
        user_id, unique_id, nickname = s.user_id, s.unique_id, s.nickname
    data = {
        "__DEFAULT_SCOPE__": {
            "webapp.user-detail": {"userInfo": {"user": {"id": user_id, "uniqueId": unique_id, "nickname": nickname}}}
        }
    }
    return _page(f"{nickname} (@{unique_id})", _script("__UNIVERSAL_DATA_FOR_REHYDRATION__", data))


def api_live_room(scenario: Scenario, unique_id: str) -> dict[str, Any]:
    """GET /api-live/user/room/: Python needs ``message`` always; Node needs a truthy statusCode on errors."""
    s = streamer_named(scenario, unique_id)
    if s is None or not is_streamer(scenario, unique_id):
        return {"statusCode": NOT_FOUND_CODE, "message": "user_not_found", "data": {}}
    status = _status(scenario)
    return {
        "statusCode": 0,
        "message": "",
        "data": {
            "user": {
                "id": s.user_id,
                "roomId": s.room_id,
                "uniqueId": s.unique_id,
                "nickname": s.nickname,
                "status": status,
            },
            "liveRoom": {"status": status, "title": s.title},
        },
    }


def check_alive(scenario: Scenario, room_ids: list[str]) -> dict[str, Any]:
    data = []
    for raw in room_ids:
        for room_id in filter(None, raw.split(",")):
            alive = is_room(scenario, room_id) and scenario.room.state != "offline"
            data.append({"alive": alive, "room_id": int(room_id) if room_id.isdigit() else 0, "room_id_str": room_id})
    return {"data": data, "extra": {"now": 0}, "status_code": 0}


def room_info(scenario: Scenario, room_id: str | None, unique_id: str | None) -> dict[str, Any]:
    """GET /webcast/room/info/ (by room_id) and /info_by_user/ (by unique_id)."""
    if room_id is not None:
        s = streamer_of_room(scenario, room_id) if is_room(scenario, room_id) else None
    else:
        s = streamer_named(scenario, unique_id or "") if is_streamer(scenario, unique_id or "") else None
    if s is None:
        return {"data": {"message": "room not found"}, "status_code": 30001}
    if scenario.room.state == "age_restricted":
        return {
            "data": {"message": "age restricted", "prompts": "This LIVE is age-restricted"},
            "status_code": 0,
        }
    return {
        "data": {
            "id": int(s.room_id),
            "id_str": s.room_id,
            "status": _status(scenario),
            "title": s.title,
            "owner": {"id_str": s.user_id, "display_id": s.unique_id, "nickname": s.nickname},
            "user_count": 321,
            "stream_url": {"flv_pull_url": {}, "hls_pull_url": ""},
        },
        "extra": {"now": 0},
        "status_code": 0,
    }


def gift_list(scenario: Scenario) -> dict[str, Any]:
    """Gift ids are numbers, as TikTok sends them (Node's string comparison then never matches: spec §6.8)."""
    gifts: dict[int, dict[str, Any]] = {
        5655: {"id": 5655, "name": "Rose", "diamond_count": 1, "type": 1},
    }
    for step in [*scenario.initial, *scenario.timeline]:
        gift = getattr(step, "gift", None)
        if gift is not None:
            gifts[gift.id] = {
                "id": gift.id,
                "name": gift.name,
                "diamond_count": gift.diamond_count,
                "type": gift.type,
            }
    for gift_json in gifts.values():
        gift_json["image"] = {"url_list": [f"https://p16-webcast.tiktokcdn.com/emu/gift/{gift_json['id']}.png"]}
    return {"data": {"gifts": list(gifts.values())}, "extra": {"now": 0}, "status_code": 0}


def webcast_error(status_code: int) -> dict[str, Any]:
    """TikTok's webcast JSON error style, answered with HTTP 200."""
    message = {30001: "room not found", 30003: "room has finished"}.get(status_code, "error")
    return {"status_code": status_code, "message": message, "data": {}}


def home_html() -> str:
    return _page("TikTok - Make Your Day", "<h1>TikTok</h1><p>ttsign emulator</p>")


def not_found_html() -> str:
    return _page("Page not found", "<h1>Couldn't find this account</h1>")
