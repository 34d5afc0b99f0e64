"""POST /webcast/room/chat/: a viewer's chat message, signed like im/fetch and sent with a logged-in session.

TikTok's order of judgement is modelled: a bad signature or an unknown `ttwid` is refused first (the same
strict checks and the same empty 200 / 403 as im/fetch), then a missing or unknown `sessionid` cookie gets
`status_code 20003` "login required", then the room must exist and be live. The chat is logged (room,
content, message id); the session id never is, only whether it was accepted.
"""

from __future__ import annotations

import itertools

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ttsign.emulator.fetch import room_refusal, strict_gate
from ttsign.emulator.state import Emulator

LOGIN_REQUIRED = 20003
MAX_CONTENT_CHARS = 500  # far above TikTok's own limit; only guards the emulator's log
_msg_ids = itertools.count(7_400_000_000_000_000_001)


def login_required() -> JSONResponse:
    return JSONResponse({"status_code": LOGIN_REQUIRED, "message": "login required", "data": {}})


async def room_chat(request: Request, emu: Emulator) -> Response:
    refused = await strict_gate(request, emu)
    if refused is not None:
        return refused

    room_id = request.query_params.get("room_id", "")
    content = request.query_params.get("content", "")
    session = request.cookies.get("sessionid", "")
    logged_in = bool(session) and session in emu.scenario.sessions
    if not logged_in:
        emu.log.add("chat_reject", room_id=room_id, reason="login_required", session_sent=bool(session))
        return login_required()
    refusal = room_refusal(emu, room_id)
    if refusal is not None:
        emu.log.add("chat_reject", room_id=room_id, reason="room")
        return refusal
    if not content or len(content) > MAX_CONTENT_CHARS:
        emu.log.add("chat_reject", room_id=room_id, reason="content")
        return JSONResponse({"status_code": 10001, "message": "invalid content", "data": {}})
    msg_id = str(next(_msg_ids))
    emu.log.add(
        "chat",
        room_id=room_id,
        content=content,
        msg_id=msg_id,
        target_idc_sent=bool(request.cookies.get("tt-target-idc")),
    )
    return JSONResponse({"status_code": 0, "data": {"content": content, "msg_id": msg_id}})
