"""Chat routes: present so every client gets an answer it understands, and off unless the operator says so.

Sending chat needs the user's TikTok session, so it is off by default: ttsign neither receives nor keeps
session cookies it does not need. "Not enabled" is HTTP 200 + body `code: 403` for Python (its chat call
returns the body) and HTTP 403 for Node (`PremiumFeatureError`).
"""

from __future__ import annotations

import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ttsign.api.access import client_info, client_ip, credentials, denied_response, with_body
from ttsign.api.errors import LOG_CODE_HEADER, REQUEST_ID_HEADER, new_request_id
from ttsign.api.state import services
from ttsign.service.admission import Denied

router = APIRouter(tags=["chat"])


class ChatReply(BaseModel):
    code: int
    message: str
    data: dict[str, str] | None = None


def _answer(request: Request, status: int, reason: str, message: str, request_id: str) -> JSONResponse:
    client = client_info(request)
    http_status = status if client.is_node else 200
    body = ChatReply(code=status, message=message).model_dump()
    return JSONResponse(body, status_code=http_status, headers={REQUEST_ID_HEADER: request_id, LOG_CODE_HEADER: reason})


async def _chat(request: Request, room_id: str | None) -> JSONResponse:
    svc = services(request)
    request_id = new_request_id()
    request.state.request_id = request_id
    admitted = await svc.admission.admit(credentials(request), client_ip(request), room_id=room_id)
    if isinstance(admitted, Denied):
        denied = denied_response(admitted, request_id, client_info(request), time.time())
        body = {**json.loads(bytes(denied.body)), "data": None}
        return with_body(denied, body)
    key = admitted.caller.key
    if not svc.settings.chat_enabled or key is None or not key.chat_enabled:
        message = "Sending chat is not enabled on this ttsign server (the operator can enable it per API key)."
        return _answer(request, 403, "chat_not_enabled", message, request_id)
    return _answer(request, 501, "chat_not_implemented", "Chat forwarding is not available yet.", request_id)


@router.post("/webcast/chat", response_model=ChatReply)
async def webcast_chat(request: Request) -> JSONResponse:
    """Send a chat message (TikTokLive 6.6.6+/7.x, Node 2.0-2.3). Off unless enabled for the key."""
    return await _chat(request, None)


@router.post("/webcast/chat/", response_model=ChatReply, include_in_schema=False)
async def webcast_chat_slash(request: Request) -> JSONResponse:
    return await _chat(request, None)


@router.post("/webcast/rooms/{room_id}/chat", response_model=ChatReply)
async def room_chat(request: Request, room_id: str) -> JSONResponse:
    """Send a chat message to a room (Node 2.4+). Off unless enabled for the key."""
    return await _chat(request, room_id)
