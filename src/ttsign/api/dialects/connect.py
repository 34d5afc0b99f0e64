"""The Euler connect routes every current client uses to open a room.

`GET /webcast/fetch` and `/webcast/fetch/` (TikTokLive 6.x/7.x, Node 2.0-2.3, Java, Go, C#) and
`GET /webcast/rooms/{room_id}/connect` (Node 2.4+). Same answer for all: TikTok's raw protobuf plus the
cookie the client needs for the WebSocket, or a JSON error naming the reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ttsign.api.errors import REQUEST_ID_HEADER, error_response, new_request_id, refusal_response
from ttsign.api.state import Services, services
from ttsign.service.connect import Connected

router = APIRouter()

PROTOBUF = "application/x-protobuf"


class ConnectQuery(BaseModel):
    """Query parameters the clients send (sign-api.md §2.1). Unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    room_id: str | None = None
    unique_id: str | None = None
    cursor: str | None = None
    internal_ext: str | None = None
    user_agent: str | None = None
    client: str | None = None  # metrics id (ttlive-python, ttlive-node, ...)
    client_enter: str | None = None
    platform: str | None = None
    tt_target_idc: str | None = None
    session_id: str | None = Field(None, repr=False)  # never forwarded, never logged


async def _connect(request: Request, svc: Services, query: ConnectQuery) -> Response:
    request_id = new_request_id()
    request.state.request_id = request_id
    if query.session_id and svc.settings.session_id_policy == "refuse":
        return error_response(400, "session_forwarding_disabled", "this server does not accept session_id", request_id)
    if query.platform == "mobile":
        return error_response(
            400, "unsupported_platform", "platform=mobile needs session forwarding; use web", request_id
        )
    if not query.room_id or query.room_id == "0":
        detail = "look the room id up first (unique_id lookup is not offered)" if query.unique_id else "missing"
        return error_response(400, "bad_request", f"room_id: {detail}", request_id)
    result = await svc.connect.connect(
        query.room_id,
        cursor=query.cursor or "",
        internal_ext=query.internal_ext or "",
        user_agent=query.user_agent,
        request_id=request_id,
    )
    if isinstance(result, Connected):
        return _success(result)
    return refusal_response(result, request_id)


def _success(result: Connected) -> Response:
    headers = {
        # ttwid first and alone: Node keeps only the first `name=value` pair of this header.
        "X-Set-TT-Cookie": f"ttwid={result.ttwid}",
        "X-Room-Id": result.room_id,
        REQUEST_ID_HEADER: result.request_id,
    }
    return Response(content=result.payload, media_type=PROTOBUF, headers=headers)


SvcDep = Annotated[Services, Depends(services)]
QueryDep = Annotated[ConnectQuery, Query()]


@router.get("/webcast/fetch")
@router.get("/webcast/fetch/", include_in_schema=False)
async def webcast_fetch(request: Request, svc: SvcDep, query: QueryDep) -> Response:
    """First im/fetch of a room (TikTokLive, Node 2.0-2.3, Java, Go, C#)."""
    return await _connect(request, svc, query)


@router.get("/webcast/rooms/{room_id}/connect")
async def room_connect(request: Request, room_id: str, svc: SvcDep, query: QueryDep) -> Response:
    """First im/fetch of a room (Node 2.4+); the path names the room."""
    return await _connect(request, svc, query.model_copy(update={"room_id": room_id}))
