"""The admin console's JSON API under /admin/api: login, keys, usage and the live picture.

Only maps HTTP to the console's services (service/console.py, live_picture.py, serving_state.py).
"""

from __future__ import annotations

import gzip
from collections.abc import Awaitable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ttsign.api.access import client_ip
from ttsign.api.admin.console_app import console_app
from ttsign.api.admin.guard import AdminRefused, admin_session, refuse_cross_site
from ttsign.api.admin.session import COOKIE_NAME, AdminSession
from ttsign.api.state import services
from ttsign.service.console import KeyRow
from ttsign.service.serving_state import serving_state
from ttsign.store.base import KeyNotFoundError, Limits

T = TypeVar("T")
router = APIRouter(prefix="/admin/api", include_in_schema=False)
Session = Annotated[AdminSession, Depends(admin_session)]
_NO_STORE = {"Cache-Control": "no-store"}
_COMPRESS_FROM = 32 * 1024
_COUNT = Field(default=None, ge=1, le=1_000_000_000)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str = Field(min_length=1, max_length=1024)


class LimitsBody(BaseModel):
    """A key's limits; an omitted or null window follows the server's default."""

    model_config = ConfigDict(extra="forbid")
    per_minute: int | None = _COUNT
    per_hour: int | None = _COUNT
    per_day: int | None = _COUNT
    rooms_per_hour: int | None = _COUNT

    def limits(self) -> Limits:
        return Limits(self.per_minute, self.per_hour, self.per_day, self.rooms_per_hour)


class NewKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    limits: LimitsBody = Field(default_factory=LimitsBody)
    chat_enabled: bool = False


class KeyChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limits: LimitsBody | None = None  # replaces the key's limits whole
    chat_enabled: bool | None = None


def _json(content: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=_NO_STORE)


def _compressed(request: Request, response: JSONResponse) -> Response:
    """A large answer gzipped when the browser takes it: the 1,000-key list is 350 KB, 40 KB gzipped, which
    matters once the console is reached over a real network rather than loopback."""
    body = bytes(response.body)
    if len(body) < _COMPRESS_FROM or "gzip" not in request.headers.get("accept-encoding", ""):
        return response
    headers = {**_NO_STORE, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return Response(gzip.compress(body, compresslevel=1), media_type="application/json", headers=headers)


def _limits(limits: Limits) -> dict[str, int | None]:
    return {
        "per_minute": limits.per_minute,
        "per_hour": limits.per_hour,
        "per_day": limits.per_day,
        "rooms_per_hour": limits.rooms_per_hour,
    }


def _key(row: KeyRow) -> dict[str, Any]:
    # By hand, not dataclasses.asdict: that deep-copies, a third of the time of a 1,000-key list.
    return {
        "key_id": row.key_id,
        "name": row.name,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "chat_enabled": row.chat_enabled,
        "limits": _limits(row.limits),
        "effective": _limits(row.effective),
        "today": row.today,
    }


def _session_body(session: AdminSession) -> dict[str, Any]:
    return {"csrf_token": session.csrf_token, "expires_at": session.expires_at}


@router.post("/login")
async def login(request: Request, body: LoginBody) -> JSONResponse:
    refuse_cross_site(request)
    console = console_app(request)
    address = client_ip(request)
    if not await console.login_attempts.allowed(address):
        raise AdminRefused(429, "too_many_attempts", "too many wrong admin secrets; wait a minute", retry_after_s=60)
    if not console.sessions.secret_matches(body.secret):
        await console.login_attempts.failed(address)
        raise AdminRefused(401, "admin_secret_wrong", "that is not the admin secret")
    session = console.sessions.issue()
    response = _json(_session_body(session))
    response.set_cookie(
        COOKIE_NAME,
        session.token,
        max_age=int(console.sessions.ttl_s),
        path="/admin",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
async def logout(_: Session) -> Response:
    response = Response(status_code=204, headers=_NO_STORE)
    response.delete_cookie(COOKIE_NAME, path="/admin", httponly=True, samesite="strict")
    return response


@router.get("/session")
async def current_session(session: Session) -> JSONResponse:
    return _json(_session_body(session))


@router.get("/keys")
async def list_keys(request: Request, _: Session) -> Response:
    rows = await console_app(request).console.key_rows()
    return _compressed(request, _json({"keys": [_key(row) for row in rows]}))


@router.post("/keys")
async def create_key(request: Request, body: NewKeyBody, _: Session) -> JSONResponse:
    row, plaintext = await console_app(request).console.create_key(
        body.name, body.limits.limits(), chat_enabled=body.chat_enabled
    )
    return _json({"key": _key(row), "api_key": plaintext}, status=201)


@router.patch("/keys/{key_id}")
async def change_key(request: Request, key_id: str, body: KeyChangeBody, _: Session) -> JSONResponse:
    limits = body.limits.limits() if body.limits is not None else None
    row = await _known(console_app(request).console.update(key_id, limits=limits, chat_enabled=body.chat_enabled))
    return _json({"key": _key(row)})


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, _: Session) -> JSONResponse:
    row = await _known(console_app(request).console.revoke(key_id))
    return _json({"key": _key(row)})


@router.get("/keys/{key_id}/usage")
async def key_usage(request: Request, key_id: str, _: Session) -> JSONResponse:
    usage = await _known(console_app(request).console.key_usage(key_id))
    return _json(asdict(usage))


@router.get("/live")
async def live(request: Request, _: Session) -> JSONResponse:
    console = console_app(request)
    svc = services(request)
    state = await serving_state(
        svc.connect,
        svc.pool,
        pool_size=svc.settings.identity_pool_size,
        budget=console.budget,
        signers=getattr(svc, "signers", None),
        relay=getattr(console.main_state, "relay", None),
        drift_check=getattr(svc, "drift_check", None),
    )
    refused_today = await console.console.refusals_today()
    numbers = asdict(console.live.numbers())
    return _json({"numbers": numbers, "serving": asdict(state), "refused_today": refused_today})


async def _known(work: Awaitable[T]) -> T:
    try:
        return await work
    except KeyNotFoundError as exc:
        raise AdminRefused(404, "key_not_found", f"no key with id {exc.args[0]!r}") from None
