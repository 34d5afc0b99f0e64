"""Streamer → room id: the clients' fallback when their own page scraping fails.

`GET /webcast/room_id?uniqueId=` (Node 2.0-2.3) and `GET /webcast/anchors/{unique_id}/room_id` (Node 2.4+).
Node reads the body whatever the status: `ok`, `code` (401/402/403 mean "no permission"), `room_id`,
and `is_live` only when `code` is 200. Errors add `reason`, the same code the other routes' error bodies carry.
"""

from __future__ import annotations

import math
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ttsign.api.access import client_info, client_ip, credentials, denied_response
from ttsign.api.access_log import note_caller
from ttsign.api.errors import LOG_CODE_HEADER, REQUEST_ID_HEADER, log_refusal_cause, new_request_id, refusal_status
from ttsign.api.state import services
from ttsign.service.admission import Denied
from ttsign.service.room_lookup import ROUTE_NAME
from ttsign.service.rooms import InvalidInput
from ttsign.upstream.refusals import Refusal

router = APIRouter(tags=["rooms"])


class RoomIdReply(BaseModel):
    code: int
    ok: bool
    message: str
    routes_attempted: list[str]
    reason: str | None = None  # errors only: the refusal code (room_not_live, captcha, timeout, ...)
    room_id: str | None = None
    is_live: bool | None = None
    source: str | None = None


def _reply(status: int, body: RoomIdReply, request_id: str, retry_after_s: float | None = None) -> JSONResponse:
    headers = {REQUEST_ID_HEADER: request_id}
    if body.reason:
        headers[LOG_CODE_HEADER] = body.reason
    if retry_after_s:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _refused(refusal: Refusal, request_id: str) -> JSONResponse:
    log_refusal_cause(refusal, request_id)
    status = refusal_status(refusal)
    reply = RoomIdReply(
        code=status, ok=False, message=refusal.message, reason=str(refusal.code), routes_attempted=[ROUTE_NAME]
    )
    return _reply(status, reply, request_id, refusal.retry_after_s)


async def _room_id(request: Request, unique_id: str) -> JSONResponse:
    svc = services(request)
    request_id = new_request_id()
    request.state.request_id = request_id
    admitted = await svc.admission.admit(credentials(request), client_ip(request), unique_id=unique_id)
    if isinstance(admitted, Denied):
        extra = {"ok": False, "routes_attempted": []}
        return denied_response(admitted, request_id, client_info(request), time.time(), extra)
    note_caller(request, admitted.caller)
    try:
        room = await svc.rooms.lookup(unique_id)
    except InvalidInput as exc:
        reply = RoomIdReply(code=400, ok=False, message=str(exc), reason="bad_request", routes_attempted=[])
        return _reply(400, reply, request_id)
    if isinstance(room, Refusal):
        return _refused(room, request_id)
    reply = RoomIdReply(
        code=200,
        ok=True,
        message="ok",
        routes_attempted=[ROUTE_NAME],
        room_id=room.room_id,
        is_live=room.live,
        source=ROUTE_NAME,
    )
    return _reply(200, reply, request_id)


# Node reads this body whatever the status, so errors carry the same shape (plus `reason`).
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": RoomIdReply, "description": description}
    for status, description in [
        (400, "Not a TikTok unique id."),
        (401, "Unknown or revoked key."),
        (404, "No such user, or no live room."),
        (429, "Over a limit."),
        (502, "TikTok refused."),
        (503, "Calls paused or the store is down."),
        (504, "TikTok did not answer in time."),
    ]
}


@router.get("/webcast/room_id", response_model=RoomIdReply, responses=_ERRORS)
async def room_id_by_query(request: Request, uniqueId: str = "") -> JSONResponse:
    """The room id and live status of a streamer (Node 2.0-2.3 fallback)."""
    return await _room_id(request, uniqueId or request.query_params.get("unique_id", ""))


@router.get("/webcast/room_id/", response_model=RoomIdReply, include_in_schema=False)
async def room_id_by_query_slash(request: Request, uniqueId: str = "") -> JSONResponse:
    return await _room_id(request, uniqueId or request.query_params.get("unique_id", ""))


@router.get("/webcast/anchors/{unique_id}/room_id", response_model=RoomIdReply, responses=_ERRORS)
async def room_id_by_anchor(request: Request, unique_id: str) -> JSONResponse:
    """The room id and live status of a streamer (Node 2.4+ fallback)."""
    return await _room_id(request, unique_id)
