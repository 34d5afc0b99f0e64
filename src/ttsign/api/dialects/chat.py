"""Chat routes: every client's request shape, answered in the form that client reads (sign-api.md §7).

Off by default: "not enabled" unless the operator turns chat on (`chat_enabled`) and for the key
(`ttsign keys create --chat`). Python clients read the body's `code` (HTTP 200 + `code: 403/401/...`:
TikTokLive 7 turns any non-200 into a bare status code, 6.5-6.6 return the body as is); Node clients read
the HTTP status (401/403 → `PremiumFeatureError`, 200 → the body). The TikTok session in the request is
handed to the chat use case and nowhere else: not logged, not echoed, not in any error.

Request shapes: Python 7 `POST /webcast/chat {content, targetRoomId}` + `x-cookie-header`; Python 6.5.2-6.6.5
`POST /webcast/chat/ {roomId, content, sessionId, ttTargetIdc}`; Node 2.0-2.3 `POST /webcast/chat
{content, roomId|targetRoomId, sessionId, ttTargetIdc}` (+ `x-cookie-header` in 2.3); Node 2.4/2.5
`POST /webcast/rooms/{room_id}/chat {content}` + `x-cookie-header` (or `x-oauth-token`).
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ttsign.api.access import client_info, client_ip, credentials, denied_response
from ttsign.api.access_log import note_caller
from ttsign.api.errors import LOG_CODE_HEADER, REQUEST_ID_HEADER, new_request_id, refusal_status
from ttsign.api.request_json import BodyNotJsonObject, json_object
from ttsign.api.state import services
from ttsign.service.admission import Denied
from ttsign.service.chat import (
    ChatAccepted,
    ChatRequest,
    ChatResult,
    SessionMissing,
    SessionRejected,
    may_chat,
    resolve_session,
)
from ttsign.service.rooms import InvalidInput
from ttsign.upstream.refusals import Refusal

router = APIRouter(tags=["chat"])
NOT_ENABLED = "Sending chat is not enabled on this ttsign server (the operator can enable it per API key)."


class ChatReply(BaseModel):
    code: int
    message: str
    data: dict[str, str] | None = None
    reason: str | None = None


_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "content": {"type": "string", "description": "The message (1-300 characters)."},
                    "targetRoomId": {"type": "string", "description": "Room id (Python 7, Node 2.3)."},
                    "roomId": {"type": "string", "description": "Room id (Python 6.5-6.6, Node 2.0-2.1)."},
                    "sessionId": {"type": "string", "description": "TikTok sessionid (older clients); never logged."},
                    "ttTargetIdc": {"type": "string", "description": "TikTok tt-target-idc cookie."},
                },
            }
        }
    },
}
_HEADERS = [
    {
        "name": "x-cookie-header",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "`sessionid=...; tt-target-idc=...` (other cookies are ignored); used for this request only.",
    },
    {
        "name": "x-oauth-token",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Accepted only when it is such a cookie string (Euler OAuth tokens are not supported).",
    },
]
_OPENAPI = {"requestBody": _BODY, "parameters": _HEADERS}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Sent (`code: 200`), or, for Python clients, any refusal with its status in `code`."},
    400: {"model": ChatReply, "description": "Missing or malformed content, room id or session (Node)."},
    401: {"model": ChatReply, "description": "No TikTok session sent, or TikTok rejected it (Node)."},
    403: {"model": ChatReply, "description": "Chat is not enabled for this server or key (Node)."},
    404: {"model": ChatReply, "description": "Room not found or not live (Node)."},
    502: {"model": ChatReply, "description": "TikTok refused the request (Node)."},
    503: {"model": ChatReply, "description": "Calls to TikTok paused, or the store is down (Node)."},
    504: {"model": ChatReply, "description": "TikTok did not answer in time (Node)."},
}


def _answer(
    request: Request,
    status: int,
    reason: str,
    message: str,
    request_id: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    http_status = status if client_info(request).is_node else 200
    body = ChatReply(code=status, message=message, data=data, reason=reason).model_dump()
    all_headers = {REQUEST_ID_HEADER: request_id, LOG_CODE_HEADER: reason, **(headers or {})}
    return JSONResponse(body, status_code=http_status, headers=all_headers)


def _text(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(name, "must be a string")
    return str(value)


async def _fields(request: Request) -> dict[str, object]:
    """The JSON body (or a form, for hand-written clients); InvalidInput when it is neither."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        return json_object(raw)
    except BodyNotJsonObject as exc:
        raise InvalidInput("body", exc.detail) from None


async def _chat_request(request: Request, path_room_id: str | None) -> ChatRequest:
    fields = await _fields(request)
    room_id = path_room_id or _text(fields.get("targetRoomId"), "targetRoomId") or _text(fields.get("roomId"), "roomId")
    session = resolve_session(
        cookie_header=request.headers.get("x-cookie-header", ""),
        oauth_token=request.headers.get("x-oauth-token", ""),
        session_id=_text(fields.get("sessionId"), "sessionId"),
        target_idc=_text(fields.get("ttTargetIdc"), "ttTargetIdc"),
    )
    return ChatRequest(room_id, _text(fields.get("content"), "content"), session)


def _result(request: Request, result: ChatResult, request_id: str) -> JSONResponse:
    if isinstance(result, ChatAccepted):
        data = {"msg_id": result.msg_id, "content": result.content}
        return _answer(request, 200, "chat_sent", "Chat message sent.", request_id, data=data)
    if isinstance(result, SessionMissing):
        return _answer(request, 401, "session_required", result.message, request_id)
    if isinstance(result, SessionRejected):
        message = f"TikTok did not accept the session ({result.message}); log in again and send fresh cookies."
        return _answer(request, 401, "session_rejected", message, request_id)
    assert isinstance(result, Refusal)
    headers = {"Retry-After": str(max(1, math.ceil(result.retry_after_s)))} if result.retry_after_s else None
    message = f"{result.message} {result.hint}".strip()
    return _answer(request, refusal_status(result), str(result.code), message, request_id, headers=headers)


async def _chat(request: Request, room_id: str | None) -> JSONResponse:
    svc = services(request)
    request_id = new_request_id()
    request.state.request_id = request_id
    # The room may be in the body (/webcast/chat): a token's scope is checked once it is known.
    admitted = await svc.admission.admit(credentials(request), client_ip(request), room_id=room_id, defer_scope=True)
    if isinstance(admitted, Denied):
        return denied_response(admitted, request_id, client_info(request), time.time(), {"data": None})
    note_caller(request, admitted.caller)
    if not may_chat(svc.settings.chat_enabled, admitted.caller.key):
        return _answer(request, 403, "chat_not_enabled", NOT_ENABLED, request_id)
    try:
        chat_request = await _chat_request(request, room_id)
    except InvalidInput as exc:  # names the field, never echoes a value
        return _answer(request, 400, "bad_request", str(exc), request_id)
    out_of_scope = await svc.admission.check_scope(admitted.caller, room_id=chat_request.room_id)
    if out_of_scope is not None:
        return _answer(request, 403, out_of_scope.reason, out_of_scope.message, request_id)
    return _result(request, await svc.chat.send(chat_request), request_id)


@router.post("/webcast/chat", response_model=ChatReply, responses=_RESPONSES, openapi_extra=_OPENAPI)
async def webcast_chat(request: Request) -> JSONResponse:
    """Send a chat message with the viewer's TikTok session (TikTokLive 6.6.6+/7.x, Node 2.0-2.3).

    Off unless enabled for the server and the key."""
    return await _chat(request, None)


@router.post("/webcast/chat/", response_model=ChatReply, include_in_schema=False)
async def webcast_chat_slash(request: Request) -> JSONResponse:
    return await _chat(request, None)


@router.post("/webcast/rooms/{room_id}/chat", response_model=ChatReply, responses=_RESPONSES, openapi_extra=_OPENAPI)
async def room_chat(request: Request, room_id: str) -> JSONResponse:
    """Send a chat message to a room with the viewer's TikTok session (Node 2.4+). Off unless enabled."""
    return await _chat(request, room_id)
