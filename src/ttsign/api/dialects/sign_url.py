"""Sign any allowed TikTok webcast URL, in every shape the clients ask for it.

- `POST /webcast/sign_url` JSON (TikTokLive 6.6.6+/7.x, Node 2.0-2.3) and `POST /webcast/sign_url/` form
  (TikTokLive 6.3-6.6.5); both paths take both encodings.
- `POST /tiktok/sign_url` (Node 2.4+, for gift lists): same body and answer.
- `GET /webcast/sign_url?url=...` (Node 1.x): the legacy flat answer of Euler's custom-server guide; for an
  im/fetch URL its `signedUrl` may be ttsign's own `/webcast/legacy/fetch/` (service/legacy_fetch.py).

Denials: Python reads "not allowed" from an HTTP 200 with body `code: 403`, Node from an HTTP 403; every
error body carries `"response": {}` because Node 2.0/2.1 read `response.tokens` before the status.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from ttsign.api.access import ClientInfo, client_info, client_ip, credentials, denied_response
from ttsign.api.access_log import note_caller
from ttsign.api.dialects.legacy_fetch import PATHS as legacy_fetch_paths
from ttsign.api.dialects.legacy_fetch import legacy_fetch, legacy_fetch_of
from ttsign.api.errors import LOG_CODE_HEADER, REQUEST_ID_HEADER, new_request_id
from ttsign.api.request_json import json_object
from ttsign.api.state import Services, services
from ttsign.service.admission import Denied
from ttsign.service.policy import PolicyError
from ttsign.service.sign import SignUrlRequest, SignUrlResult

router = APIRouter(tags=["signing"])
MAX_URL = 16_384
MAX_PAYLOAD = 65_536


class SignUrlBody(BaseModel):
    """The Euler `SignTikTokUrlBody`; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    url: str = Field(min_length=1, max_length=MAX_URL, description="TikTok URL to sign, without X-Bogus/X-Gnarly.")
    user_agent: str | None = Field(
        default=None, max_length=512, validation_alias=AliasChoices("userAgent", "user_agent")
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    type: Literal["xhr", "fetch"] | None = None
    payload: str | None = Field(default=None, max_length=MAX_PAYLOAD, description="Request body to bind.")
    session_id: str | None = Field(
        default=None, repr=False, exclude=True, validation_alias=AliasChoices("sessionId", "session_id")
    )
    tt_target_idc: str | None = Field(
        default=None, max_length=64, validation_alias=AliasChoices("ttTargetIdc", "tt_target_idc")
    )

    def signing_request(self, caller: str, *, legacy: bool) -> SignUrlRequest:
        """What the sign use case is asked for (a route with more fields extends this)."""
        return SignUrlRequest(
            self.url, self.method, self.user_agent, self.payload or "", legacy_signature=legacy, caller=caller
        )


class SignedUrlResponse(BaseModel):
    signedUrl: str
    userAgent: str
    browserName: str
    browserVersion: str
    tokens: dict[str, str]
    requestHeaders: dict[str, str]
    cookies: list[dict[str, str]]


class SignUrlReply(BaseModel):
    code: int = 200
    message: str = "ok"
    response: SignedUrlResponse


class LegacySignUrlReply(BaseModel):
    """Euler's custom-sign-server guide, key for key."""

    model_config = ConfigDict(populate_by_name=True)

    code: int = 200
    message: str = "Successful"
    signedUrl: str
    browserVersion: str
    browserName: str
    user_agent: str = Field(serialization_alias="User-Agent", validation_alias="User-Agent")
    signature: str = Field(serialization_alias="_signature", validation_alias="_signature")
    x_bogus: str = Field(serialization_alias="X-Bogus", validation_alias="X-Bogus")
    msToken: str


class SignError(BaseModel):
    code: int
    message: str
    reason: str
    response: dict[str, Any] = Field(default_factory=dict)


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SignUrlBody.model_json_schema(by_alias=False)},
            "application/x-www-form-urlencoded": {"schema": SignUrlBody.model_json_schema(by_alias=False)},
        },
    }
}
SIGN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": SignError,
        "description": "Malformed body (bad_request), not a URL a browser can read (url_invalid), or a URL outside "
        "the signing policy (url_not_allowed); the policy judges and signs the URL as browsers parse it (WHATWG)",
    },
    401: {"model": SignError, "description": "Unknown or revoked key"},
    403: {"model": SignError, "description": "Not allowed (Node clients)"},
    413: {"model": SignError, "description": "Body too large"},
    429: {"model": SignError, "description": "Over a rate limit; see Retry-After and RateLimit-* headers"},
}


def sign_error(status: int, reason: str, message: str, request_id: str, client: ClientInfo) -> JSONResponse:
    """Forbidden is HTTP 200 + code 403 for Python (the only form it recognises), HTTP 403 for Node."""
    http_status = 200 if status == 403 and not client.is_node else status
    body = SignError(code=status, message=message, reason=reason).model_dump()
    headers = {REQUEST_ID_HEADER: request_id, LOG_CODE_HEADER: reason}
    return JSONResponse(body, status_code=http_status, headers=headers)


async def read_sign_body(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    return json_object(await request.body())


async def sign_answer(
    request: Request,
    svc: Services,
    fields: dict[str, Any] | None,
    *,
    legacy: bool,
    body_model: type[SignUrlBody] = SignUrlBody,
) -> JSONResponse:
    """Every sign route's flow: admit, read `body_model` (from `fields` or the body), sign, check the signed
    URL against a token's scope, answer in the route's shape."""
    request_id = new_request_id()
    request.state.request_id = request_id
    client = client_info(request)
    # The room is in the URL: a token's scope is checked on the URL as signed (below).
    admitted = await svc.admission.admit(credentials(request), client_ip(request), defer_scope=True)
    if isinstance(admitted, Denied):
        if admitted.status == 403:
            return sign_error(403, admitted.reason, admitted.message, request_id, client)
        return denied_response(admitted, request_id, client, time.time(), {"response": {}})
    note_caller(request, admitted.caller)
    try:
        if fields is None:
            fields = await read_sign_body(request)
        body = body_model.model_validate(fields)
    except (ValueError, ValidationError) as exc:
        message = describe_bad_body(exc)
        return sign_error(400, "bad_request", message, request_id, client)
    if body.session_id and svc.settings.session_id_policy == "refuse":
        return sign_error(
            400, "session_forwarding_disabled", "this server does not accept session ids", request_id, client
        )
    try:
        result = await svc.sign.sign_url(body.signing_request(admitted.caller.label, legacy=legacy))
    except PolicyError as exc:
        return sign_error(400, exc.reason, str(exc), request_id, client)
    except ValueError as exc:
        return sign_error(400, "bad_request", str(exc), request_id, client)
    out_of_scope = await svc.admission.check_url_scope(admitted.caller, result.signed_url)
    if out_of_scope is not None:
        return sign_error(403, out_of_scope.reason, out_of_scope.message, request_id, client)
    if not legacy:
        return JSONResponse(sign_reply(result), headers={REQUEST_ID_HEADER: request_id})
    # Node 1.x's im/fetch: a URL of ttsign's own when the service says so (service/legacy_fetch.py).
    base = str(request.base_url)
    through = await legacy_fetch_of(request).fetch_url(result.signed_url, body.url, base, admitted.caller)
    if isinstance(through, Denied):
        if through.status == 403:
            return sign_error(403, through.reason, through.message, request_id, client)
        return denied_response(through, request_id, client, time.time(), {"response": {}})
    return JSONResponse(_legacy_reply(result, through), headers={REQUEST_ID_HEADER: request_id})


def describe_bad_body(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, json.JSONDecodeError):
        return f"the body is not valid JSON ({exc.msg})"
    return str(exc)


def sign_reply(result: SignUrlResult) -> dict[str, Any]:
    response = SignedUrlResponse(
        signedUrl=result.signed_url,
        userAgent=result.profile.user_agent,
        browserName=result.profile.browser_name,
        browserVersion=result.profile.browser_version,
        tokens=result.tokens,
        requestHeaders=result.request_headers,
        cookies=result.cookies,
    )
    return SignUrlReply(response=response).model_dump()


def _legacy_reply(result: SignUrlResult, fetch_url: str | None) -> dict[str, Any]:
    """`fetch_url`: ttsign's URL to hand out instead of the signed one (the tokens stay: Node keeps msToken)."""
    reply = LegacySignUrlReply.model_validate(
        {
            "signedUrl": fetch_url or result.signed_url,
            "browserVersion": result.profile.browser_version,
            "browserName": result.profile.browser_name,
            "User-Agent": result.profile.user_agent,
            "_signature": result.tokens.get("_signature", ""),
            "X-Bogus": result.tokens["X-Bogus"],
            "msToken": result.tokens["msToken"],
        }
    )
    return reply.model_dump(by_alias=True)


@router.post(
    "/webcast/sign_url",
    response_model=SignUrlReply,
    responses=SIGN_ERRORS,
    openapi_extra=_BODY_DOC,
    summary="Sign a URL",
)
async def webcast_sign_url(request: Request) -> JSONResponse:
    """Sign a TikTok webcast URL (JSON or form body); msToken, X-Bogus and X-Gnarly are appended."""
    return await sign_answer(request, services(request), None, legacy=False)


@router.post(
    "/webcast/sign_url/",
    response_model=SignUrlReply,
    responses=SIGN_ERRORS,
    openapi_extra=_BODY_DOC,
    summary="Sign (form)",
)
async def webcast_sign_url_slash(request: Request) -> JSONResponse:
    """The same, at the path TikTokLive 6.3-6.6.5 posts a form to."""
    return await sign_answer(request, services(request), None, legacy=False)


@router.post("/tiktok/sign_url", response_model=SignUrlReply, responses=SIGN_ERRORS, openapi_extra=_BODY_DOC)
async def tiktok_sign_url(request: Request) -> JSONResponse:
    """Sign a TikTok URL (Node 2.4+ signs `gift/list/` here)."""
    return await sign_answer(request, services(request), None, legacy=False)


@router.post("/tiktok/sign_url/", response_model=SignUrlReply, responses=SIGN_ERRORS, openapi_extra=_BODY_DOC)
async def tiktok_sign_url_slash(request: Request) -> JSONResponse:
    """The same, with a trailing slash."""
    return await sign_answer(request, services(request), None, legacy=False)


async def _legacy(request: Request) -> JSONResponse:
    params = request.query_params
    fields: dict[str, Any] = {"url": params.get("url", "")}
    if params.get("userAgent") or params.get("user_agent"):
        fields["userAgent"] = params.get("userAgent") or params.get("user_agent")
    return await sign_answer(request, services(request), fields, legacy=True)


@router.get("/webcast/sign_url", response_model=LegacySignUrlReply, responses=SIGN_ERRORS, summary="Sign (legacy GET)")
async def legacy_sign_url(request: Request, url: str) -> JSONResponse:
    """Node 1.x: sign `url` (an im/fetch URL); the flat reply of Euler's custom-sign-server guide."""
    return await _legacy(request)


@router.get("/webcast/sign_url/", response_model=LegacySignUrlReply, responses=SIGN_ERRORS, include_in_schema=False)
async def legacy_sign_url_slash(request: Request, url: str) -> JSONResponse:
    return await _legacy(request)


# Serving: plain Starlette routes, registered before the FastAPI routes above so they answer first. FastAPI's
# per-request parameter and response handling cost about as much as signing itself; the FastAPI routes stay
# (never reached) so the OpenAPI document is generated from the same models.
async def _serve_post(request: Request) -> JSONResponse:
    return await sign_answer(request, services(request), None, legacy=False)


async def _serve_legacy(request: Request) -> JSONResponse:
    return await _legacy(request)


serving = APIRouter()
for _path in ("/webcast/sign_url", "/webcast/sign_url/", "/tiktok/sign_url", "/tiktok/sign_url/"):
    serving.add_route(_path, _serve_post, methods=["POST"], include_in_schema=False)
for _path in ("/webcast/sign_url", "/webcast/sign_url/"):
    serving.add_route(_path, _serve_legacy, methods=["GET"], include_in_schema=False)
for _path in legacy_fetch_paths:
    serving.add_route(_path, legacy_fetch, methods=["GET"], include_in_schema=False)
