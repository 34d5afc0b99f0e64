"""The caller's own account: where its rate limits stand, and short-lived JWTs for browser apps."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from ttsign.api.access import client_info, client_ip, credentials, denied_response
from ttsign.api.access_log import note_caller
from ttsign.api.errors import REQUEST_ID_HEADER, error_response, new_request_id
from ttsign.api.request_json import json_object
from ttsign.api.state import services
from ttsign.service.admission import Credentials, Denied
from ttsign.service.jwt_auth import DEFAULT_LIFETIME_S, MAX_LIFETIME_S, JwtError

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


async def _rate_limits(request: Request) -> JSONResponse:
    svc = services(request)
    request_id = new_request_id()
    # Counted against the address (not the key's quota), so probing keys here costs like anywhere else.
    admitted = await svc.admission.admit_account(credentials(request), client_ip(request), count_key=False)
    if isinstance(admitted, Denied):
        return denied_response(admitted, request_id, client_info(request), time.time())
    caller = admitted.caller
    note_caller(request, caller)
    limits = svc.admission.limits_of(caller)
    states = await svc.limiter.peek(caller.label, limits.windows())
    windows = {s.label: WindowReply(max=s.limit, remaining=s.remaining, reset_at=int(s.reset_at)) for s in states}
    reply = RateLimitsReply(
        key_id=caller.key.key_id if caller.key else None,
        anonymous=caller.key is None,
        minute=windows.get("minute"),
        hour=windows.get("hour"),
        day=windows.get("day"),
    )
    return JSONResponse(reply.model_dump(), headers={REQUEST_ID_HEADER: request_id})


@router.get("/webcast/rate_limits", response_model=RateLimitsReply)
async def webcast_rate_limits(request: Request) -> JSONResponse:
    """Where the caller's minute/hour/day windows stand; does not count as a request."""
    return await _rate_limits(request)


@router.get("/accounts/me/rate_limits", response_model=RateLimitsReply)
async def account_rate_limits(request: Request) -> JSONResponse:
    """The same, at the path of the newer SDKs."""
    return await _rate_limits(request)


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
