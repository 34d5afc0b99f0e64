"""The caller's own account: where its rate limits stand, and short-lived JWTs for browser apps.

Rate limits come in two shapes: `/webcast/rate_limits` keeps the older SDKs' (`reset_at` in unix seconds, key id,
load shedding), `/accounts/me/rate_limits` answers the newer SDKs' (EulerApiSdk 0.5.0, tiktok-live-api-sdk 0.6.0:
`{code, message, day, hour, minute}`, `reset_at` an ISO-8601 string or null).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from ttsign.api.access import client_info, client_ip, credentials, denied_response
from ttsign.api.access_log import note_caller
from ttsign.api.errors import REQUEST_ID_HEADER, error_response, new_request_id
from ttsign.api.request_json import json_object
from ttsign.api.state import services
from ttsign.service.admission import Caller, Credentials, Denied
from ttsign.service.jwt_auth import DEFAULT_LIFETIME_S, MAX_LIFETIME_S, JwtError
from ttsign.service.limits import WindowState

router = APIRouter(tags=["account"])


class WindowReply(BaseModel):
    max: int
    remaining: int
    reset_at: int


class RateLimitsReply(BaseModel):
    code: int = 200
    key_id: str | None = None
    anonymous: bool
    load_shedding: dict[str, Any] = Field(default_factory=lambda: {"at": None, "chance": 0})
    minute: WindowReply | None = None
    hour: WindowReply | None = None
    day: WindowReply | None = None


class AccountWindowReply(BaseModel):
    max: int
    remaining: int
    reset_at: str | None = Field(
        description="ISO-8601 UTC instant the window starts afresh; null while nothing is counted in it."
    )


class AccountRateLimitsReply(BaseModel):
    """The newer SDKs' `GetRateLimits`; a window the caller has no limit in is left out (never null)."""

    code: int = 200
    message: str = "ok"
    minute: AccountWindowReply | None = None
    hour: AccountWindowReply | None = None
    day: AccountWindowReply | None = None


# The newer SDKs' `RateLimitType`. ttsign limits webcast requests only; the others name Euler products it lacks.
LIMIT_TYPES = ("WEBCAST", "ALERTS", "RATE_LIMITS", "CATALOG", "RANKINGS")
_SHOWN = 40  # characters of a refused `type` quoted back


async def _window_states(request: Request, request_id: str) -> tuple[Caller, list[WindowState]] | JSONResponse:
    """The caller and where its windows stand, or the refusal. Counted against the address (not the key's quota), so
    probing keys here costs like anywhere else; reading the windows counts as no request."""
    svc = services(request)
    admitted = await svc.admission.admit_account(credentials(request), client_ip(request), count_key=False)
    if isinstance(admitted, Denied):
        return denied_response(admitted, request_id, client_info(request), time.time())
    caller = admitted.caller
    note_caller(request, caller)
    return caller, await svc.limiter.peek(caller.label, svc.admission.limits_of(caller).windows())


@router.get("/webcast/rate_limits", response_model=RateLimitsReply)
async def webcast_rate_limits(request: Request) -> JSONResponse:
    """Where the caller's minute/hour/day windows stand; does not count as a request."""
    request_id = new_request_id()
    found = await _window_states(request, request_id)
    if isinstance(found, JSONResponse):
        return found
    caller, states = found
    windows = {s.label: WindowReply(max=s.limit, remaining=s.remaining, reset_at=int(s.reset_at)) for s in states}
    reply = RateLimitsReply(
        key_id=caller.key.key_id if caller.key else None,
        anonymous=caller.key is None,
        minute=windows.get("minute"),
        hour=windows.get("hour"),
        day=windows.get("day"),
    )
    return JSONResponse(reply.model_dump(), headers={REQUEST_ID_HEADER: request_id})


def _iso_reset(state: WindowState) -> str | None:
    if state.remaining >= state.limit:
        return None  # nothing counted: there is nothing to reset
    instant = datetime.fromtimestamp(math.ceil(state.reset_at), UTC)  # never earlier than the true reset
    return instant.isoformat().replace("+00:00", "Z")


@router.get("/accounts/me/rate_limits", response_model=AccountRateLimitsReply, response_model_exclude_unset=True)
async def account_rate_limits(request: Request, type: str = "WEBCAST") -> JSONResponse:
    """The same windows in the newer SDKs' shape. `type`: WEBCAST (the default) is the only kind of limit ttsign
    has; ALERTS, RATE_LIMITS, CATALOG and RANKINGS (Euler products ttsign lacks) and anything else are a 400."""
    request_id = new_request_id()
    found = await _window_states(request, request_id)
    if isinstance(found, JSONResponse):
        return found
    _, states = found
    if type.upper() != "WEBCAST":
        message = f"type {type[:_SHOWN]!r}: this server has webcast limits only (type=WEBCAST, the default)"
        return error_response(400, "unsupported_limit_type", message, request_id)
    windows = {s.label: AccountWindowReply(max=s.limit, remaining=s.remaining, reset_at=_iso_reset(s)) for s in states}
    # exclude_unset: a window the caller lacks is left out, while a null reset_at (always set) stays.
    reply = AccountRateLimitsReply(code=200, message="ok", **windows)
    return JSONResponse(reply.model_dump(exclude_unset=True), headers={REQUEST_ID_HEADER: request_id})


class JwtRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    expire_after: int = Field(
        default=DEFAULT_LIFETIME_S,
        ge=1,
        le=MAX_LIFETIME_S,
        validation_alias=AliasChoices("expireAfter", "expire_after"),
    )
    allowed_creators: list[str] | None = Field(
        default=None, max_length=100, validation_alias=AliasChoices("allowedCreators", "allowed_creators")
    )
    max_connections: int | None = Field(
        default=None, ge=1, validation_alias=AliasChoices("maxWebSockets", "maxConnections", "max_connections")
    )


class JwtReply(BaseModel):
    code: int = 200
    token: str
    expires_at: int
    key_id: str


@router.post("/accounts/me/jwt", response_model=JwtReply)
async def create_jwt(request: Request) -> JSONResponse:
    """Mint a short-lived x-jwt-key token for a browser app; needs the API key itself (X-Api-Key).

    Only a key mints: an x-jwt-key sent along is not a credential here, so a token can never mint another
    (which could widen its scope or outlive it)."""
    svc = services(request)
    request_id = new_request_id()
    api_key = credentials(request).api_key
    if not api_key:
        return error_response(401, "api_key_required", "minting a token needs the API key itself", request_id)
    admitted = await svc.admission.admit_account(Credentials(api_key=api_key), client_ip(request), count_key=True)
    if isinstance(admitted, Denied):
        return denied_response(admitted, request_id, client_info(request), time.time())
    caller = admitted.caller
    note_caller(request, caller)
    try:
        body = JwtRequest.model_validate(json_object(await request.body()))
    except (ValueError, ValidationError) as exc:
        return error_response(400, "bad_request", f"invalid token request: {exc}".splitlines()[0], request_id)
    authority = await svc.admission.jwt_authority()
    if caller.key is None or authority is None:
        return error_response(401, "jwt_not_enabled", "this server does not mint x-jwt-key tokens", request_id)
    try:
        token, grant = authority.issue(
            caller.key.key_id,
            lifetime_s=body.expire_after,
            allowed_creators=body.allowed_creators,
            max_connections=body.max_connections,
        )
    except JwtError as exc:
        return error_response(400, "bad_request", str(exc), request_id)
    reply = JwtReply(token=token, expires_at=grant.expires_at, key_id=grant.key_id)
    return JSONResponse(reply.model_dump(), headers={REQUEST_ID_HEADER: request_id})
