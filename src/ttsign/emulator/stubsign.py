"""Stub-sign mode (scenario ``stub_sign: true``): the emulator also stands in for the sign server.

A harness self-test: the real clients connect to the emulator alone. Answers in the Euler dialects the clients
speak: ``GET /webcast/fetch[/]`` (Python), ``GET /webcast/rooms/{id}/connect`` (Node), ``POST /webcast/sign_url``
and ``POST /tiktok/sign_url`` (URLs signed with ttsign.signing), ``GET /webcast/anchors/{u}/room_id``.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ttsign.emulator import pages
from ttsign.emulator.fetch import PROTOBUF, initial_bytes
from ttsign.emulator.state import Emulator
from ttsign.signing import ProfileError, default_profile, profile_from_user_agent, sign_request


def _refusal(reason: str, message: str) -> JSONResponse:
    return JSONResponse({"code": 404, "reason": reason, "message": message}, status_code=404)


def _connect(emu: Emulator, room_id: str) -> Response:
    if not pages.is_room(emu.scenario, room_id):
        return _refusal("room_not_found", f"room {room_id} does not exist")
    if emu.scenario.room.state == "offline":
        return _refusal("room_not_live", f"room {room_id} is not live")
    ttwid = emu.cookies.issue_ttwid()
    headers = {
        # ttwid first: Node keeps only the first name=value pair.
        "X-Set-TT-Cookie": f"ttwid={ttwid}; Path=/; Domain=.tiktok.com",
        "X-Room-Id": room_id,
        "X-Request-Id": f"emu-{emu.fetch_count + 1}",
    }
    return Response(initial_bytes(emu), media_type=PROTOBUF, headers=headers)


async def fetch(request: Request, emu: Emulator) -> Response:
    return _connect(emu, request.query_params.get("room_id", ""))


async def rooms_connect(request: Request, emu: Emulator) -> Response:
    return _connect(emu, request.path_params["room_id"])


async def anchor_room_id(request: Request, emu: Emulator) -> Response:
    user = request.path_params["unique_id"]
    if not pages.is_streamer(emu.scenario, user):
        return JSONResponse({"code": 404, "ok": False, "message": "user not found"}, status_code=404)
    return JSONResponse({"code": 200, "ok": True, "room_id": emu.scenario.streamer.room_id})


async def _sign_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def sign_url(request: Request, emu: Emulator) -> Response:
    body = await _sign_body(request)
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return JSONResponse({"code": 400, "message": "body needs a 'url' to sign"}, status_code=400)
    user_agent = str(body.get("userAgent") or "")
    try:
        profile = profile_from_user_agent(user_agent) if user_agent else default_profile()
    except ProfileError:
        profile = default_profile()
    signed = sign_request(
        str(body.get("method") or "GET"),
        url,
        str(body.get("payload") or ""),
        profile,
        now_ms=int(time.time() * 1000),
        rng=random.Random(),
        ms_token=emu.cookies.issue_ms_token(),
    )
    return JSONResponse(
        {
            "code": 200,
            "message": "ok",
            "response": {
                "signedUrl": signed.url,
                "userAgent": profile.user_agent,
                "browserName": profile.browser_name,
                "browserVersion": profile.browser_version,
                "tokens": signed.tokens,
                "requestHeaders": signed.headers,
                "cookies": {},
            },
        }
    )
