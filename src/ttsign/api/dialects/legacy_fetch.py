"""`GET /webcast/legacy/fetch/`: the URL the legacy sign route hands tiktok-live-connector 1.x for its im/fetch
(service/legacy_fetch.py says why). The answer is `/webcast/fetch`'s, plus a `Set-Cookie` with the ttwid:
Node 1.x reads cookies only from `Set-Cookie` and sends its whole jar on the socket.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from ttsign.api.access import query
from ttsign.api.dialects.connect import PROTOBUF, STRATEGY_HEADER, USER_AGENT_HEADER
from ttsign.api.errors import REQUEST_ID_HEADER, error_response, new_request_id, refusal_response
from ttsign.api.state import Services, services
from ttsign.service.legacy_fetch import FETCH_PATH, TICKET_PARAM, FetchTicket, LegacyFetchThrough, TicketRefused
from ttsign.service.rooms import InvalidInput
from ttsign.service.strategies import Connected

_STORE_SLOT = "legacy_fetch_ticket"


def legacy_fetch_of(request: Request) -> LegacyFetchThrough:
    """The app's one LegacyFetchThrough, made on first use from its services."""
    state = request.app.state
    through = getattr(state, "legacy_fetch", None)
    if isinstance(through, LegacyFetchThrough):
        return through
    svc = services(request)
    through = LegacyFetchThrough(
        svc.connect, svc.admission, _secret_of(svc), enabled=svc.settings.legacy_fetch_through_ttsign
    )
    state.legacy_fetch = through
    return through


def _secret_of(svc: Services) -> Callable[[], Awaitable[bytes]]:
    async def secret() -> bytes:
        # In the store, so every replica checks the tickets any replica issued.
        return (await svc.store.secret(_STORE_SLOT, lambda: secrets.token_urlsafe(32))).encode()

    return secret


async def legacy_fetch(request: Request) -> Response:
    request_id = new_request_id()
    request.state.request_id = request_id
    params = query(request)
    try:
        fields = FetchTicket(params.get("room_id", ""), params.get("caller", ""), params.get("user_agent", ""))
        result = await legacy_fetch_of(request).fetch(fields, params.get(TICKET_PARAM, ""), request_id=request_id)
    except InvalidInput as exc:
        return error_response(400, "bad_request", str(exc), request_id)
    if isinstance(result, TicketRefused):
        return error_response(403, "invalid_ticket", result.message, request_id)
    if not isinstance(result, Connected):
        return refusal_response(result, request_id)
    request.state.strategy = result.strategy  # for the access log line
    headers = {
        "Set-Cookie": f"ttwid={result.ttwid}; Path=/; HttpOnly",
        "X-Set-TT-Cookie": f"ttwid={result.ttwid}",
        "X-Room-Id": result.room_id,
        REQUEST_ID_HEADER: result.request_id,
        STRATEGY_HEADER: result.strategy,
    }
    if result.user_agent:
        headers[USER_AGENT_HEADER] = result.user_agent
    return Response(content=result.payload, media_type=PROTOBUF, headers=headers)


PATHS = (FETCH_PATH, FETCH_PATH.rstrip("/"))
