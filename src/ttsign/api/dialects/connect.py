"""The Euler connect routes every current client uses to open a room.

`GET /webcast/fetch` and `/webcast/fetch/` (TikTokLive 6.x/7.x, Node 2.0-2.3, Java, Go, C#) and
`GET /webcast/rooms/{room_id}/connect` (Node 2.4+), `GET /webcast/anchors/{unique_id}/connect` (EulerApiSdk 0.5.0,
tiktok-live-api-sdk 0.6.0). Same answer for all: TikTok's raw protobuf plus the
cookie the client needs for the WebSocket, or a JSON error naming the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from fastapi import APIRouter, Request, Response

from ttsign.api.access import client_ip, client_of, credentials, denied_response, header, query
from ttsign.api.access_log import note_caller, note_dialect, note_strategy
from ttsign.api.errors import REQUEST_ID_HEADER, error_response, new_request_id, refusal_response
from ttsign.api.state import Services, services
from ttsign.service.admission import Denied
from ttsign.service.connect import Connected

router = APIRouter()

PROTOBUF = "application/x-protobuf"
STRATEGY_HEADER = "X-Ttsign-Strategy"  # which connect strategy served the answer (direct, fetch)
USER_AGENT_HEADER = "X-Set-TT-User-Agent"  # nglmercer's name for the identity's User-Agent


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each field through object.__setattr__
class ConnectQuery:
    """Query parameters the clients send (sign-api.md §2.1). Unknown parameters are ignored."""

    room_id: str | None = None
    unique_id: str | None = None
    cursor: str | None = None
    internal_ext: str | None = None
    user_agent: str | None = None
    platform: str | None = None
    session_id: str | None = field(default=None, repr=False)  # never forwarded, never logged
    params: dict[str, str] = field(default_factory=dict, repr=False, compare=False)  # all of them, parsed once
    # Also accepted and ignored: client (metrics id), client_enter, tt_target_idc, uuc, apiKey, ...

    @classmethod
    def from_request(cls, request: Request, room_id: str | None = None) -> ConnectQuery:
        params = query(request)
        return cls(
            room_id=room_id if room_id is not None else params.get("room_id"),
            unique_id=params.get("unique_id"),
            cursor=params.get("cursor"),
            internal_ext=params.get("internal_ext"),
            # Old clients (TikTokLive 4.x-6.2) send no user_agent param: their request itself carries the
            # browser UA they will use on the WebSocket. New clients' own UA fails profiling and is ignored.
            user_agent=params.get("user_agent") or header(request, b"user-agent") or None,
            platform=params.get("platform"),
            session_id=params.get("session_id"),
            params=params,
        )


async def _connect(request: Request, svc: Services, query: ConnectQuery) -> Response:
    request_id = new_request_id()  # Observe's, which it also left in the scope's state for the error handlers
    client = client_of(header(request, b"user-agent"), query.params.get("client", ""))
    note_dialect(request, client)
    # Limits before any signing or upstream work, so refused callers cost nothing.
    admitted = await svc.admission.admit(
        credentials(request, query.params), client_ip(request), room_id=query.room_id or None, unique_id=query.unique_id
    )
    if isinstance(admitted, Denied):
        return denied_response(admitted, request_id, client, time.time())
    note_caller(request, admitted.caller)
    if query.session_id and svc.settings.session_id_policy == "refuse":
        return error_response(400, "session_forwarding_disabled", "this server does not accept session_id", request_id)
    if query.platform == "mobile":
        return error_response(
            400, "unsupported_platform", "platform=mobile needs session forwarding; use web", request_id
        )
    result = await svc.connect.connect(
        query.room_id,
        unique_id=query.unique_id,
        cursor=query.cursor or "",
        internal_ext=query.internal_ext or "",
        user_agent=query.user_agent,
        request_id=request_id,
        caller=admitted.caller.label,
    )
    if isinstance(result, Connected):
        note_strategy(request, result.strategy)
        return _Answer(result)
    return refusal_response(result, request_id)


_COOKIE, _ROOM, _ID, _STRATEGY, _AGENT = (
    name.lower().encode("latin-1")
    for name in ("X-Set-TT-Cookie", "X-Room-Id", REQUEST_ID_HEADER, STRATEGY_HEADER, USER_AGENT_HEADER)
)
_PROTOBUF = PROTOBUF.encode("latin-1")


class _Answer(Response):
    """A connect's answer: TikTok's protobuf, and the headers the client opens its socket with.

    The head is built here whole, as the raw pairs Starlette would make from a headers dict (ours, then
    content-length and content-type): Response's own constructor lower-cases and encodes a dict and looks
    for the content type's charset, a tenth of a direct connect's handling before it was skipped."""

    media_type = PROTOBUF

    def __init__(self, result: Connected) -> None:  # sets the fields Response.__init__ would
        self.status_code = 200
        self.background = None
        self.body = result.payload
        head = [
            # ttwid first and alone: Node keeps only the first `name=value` pair of this header.
            (_COOKIE, f"ttwid={result.ttwid}".encode("latin-1")),
            (_ROOM, result.room_id.encode("latin-1")),
            (_ID, result.request_id.encode("latin-1")),
            (_STRATEGY, result.strategy.encode("latin-1")),
        ]
        if result.user_agent:
            # The browser the identity is: a client that opens its socket with it matches the socket's cookie.
            head.append((_AGENT, result.user_agent.encode("latin-1")))
        head.append((b"content-length", str(len(result.payload)).encode("latin-1")))
        head.append((b"content-type", _PROTOBUF))
        self.raw_headers = head


# Plain Starlette routes: nothing to validate beyond what the service checks, and FastAPI's dependency
# resolution would cost more than the rest of the request handling together.
async def webcast_fetch(request: Request) -> Response:
    """First im/fetch of a room (TikTokLive, Node 2.0-2.3, Java, Go, C#)."""
    return await _connect(request, services(request), ConnectQuery.from_request(request))


async def room_connect(request: Request) -> Response:
    """First im/fetch of a room (Node 2.4+); the path names the room."""
    room_id = str(request.path_params["room_id"])
    return await _connect(request, services(request), ConnectQuery.from_request(request, room_id))


async def anchor_connect(request: Request) -> Response:
    """First im/fetch of a streamer's room (EulerApiSdk 0.5.0, tiktok-live-api-sdk 0.6.0); the path names the
    streamer. Its session headers (x-cookie-header, x-oauth-token) are a session id by other means: the same
    session_id_policy applies, and they are never forwarded or logged."""
    query = ConnectQuery.from_request(request)
    session = query.session_id or header(request, b"x-cookie-header") or header(request, b"x-oauth-token")
    unique_id = str(request.path_params["unique_id"])
    query = replace(query, room_id=None, unique_id=unique_id, session_id=session or None)
    return await _connect(request, services(request), query)


router.add_route("/webcast/fetch", webcast_fetch, methods=["GET"])
router.add_route("/webcast/fetch/", webcast_fetch, methods=["GET"], include_in_schema=False)
router.add_route("/webcast/rooms/{room_id}/connect", room_connect, methods=["GET"])
router.add_route("/webcast/anchors/{unique_id}/connect", anchor_connect, methods=["GET"])
