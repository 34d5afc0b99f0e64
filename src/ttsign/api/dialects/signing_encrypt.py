"""`POST /tiktok/signing/encrypt/sign_url`: Euler's newer name for sign_url (EulerApiSdk 0.5.0, tiktok-live-api-sdk
0.6.0), with three more body fields. The answer, the denials and every policy are sign_url's (see sign_url.py):

- `ttwid`: the caller's own ttwid. Its cookie jar is then the identity: the request is signed on a fresh page with a
  minted msToken and the answered cookie is that ttwid, so no pooled identity is used, mixed in or disclosed. It
  is a secret: never logged, never echoed in an error.
- `includeBrowserParams`: append the browser-describing params the URL lacks (browser_language, browser_name,
  browser_online, browser_platform, browser_version, cookie_enabled, screen_height, screen_width, tz_name), as the
  page's request code does, before signing.
- `includeVerifyFp` (deprecated in the SDKs): accepted, has no effect.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, Field

from ttsign.api.dialects.sign_url import SIGN_ERRORS, SignUrlBody, SignUrlReply, sign_answer
from ttsign.api.state import services
from ttsign.service.sign import SignUrlRequest

router = APIRouter(tags=["signing"])
PATH = "/tiktok/signing/encrypt/sign_url"
# RFC 6265 cookie-octets: a ttwid that could break out of a Cookie header is refused, not signed.
_COOKIE_VALUE = r"^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$"


class EncryptSignUrlBody(SignUrlBody):
    """Euler's `SignTikTokUrlBody` of EulerApiSdk 0.5.0; unknown fields are ignored."""

    ttwid: str | None = Field(
        default=None, max_length=1024, pattern=_COOKIE_VALUE, repr=False, description="The caller's ttwid cookie."
    )
    include_browser_params: bool = Field(
        default=False,
        validation_alias=AliasChoices("includeBrowserParams", "include_browser_params"),
        description="Append the browser params the URL lacks before signing.",
    )
    include_verify_fp: bool = Field(
        default=False,
        validation_alias=AliasChoices("includeVerifyFp", "include_verify_fp"),
        description="Deprecated; no effect.",
    )

    def signing_request(self, caller: str, *, legacy: bool) -> SignUrlRequest:
        return replace(
            super().signing_request(caller, legacy=legacy),
            ttwid=self.ttwid,
            include_browser_params=self.include_browser_params,
        )


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": EncryptSignUrlBody.model_json_schema(by_alias=False)}},
    }
}


async def sign_encrypt(request: Request) -> JSONResponse:
    # sign_url's flow (admission, scope judged on the URL as signed, errors) with this route's body.
    return await sign_answer(request, services(request), None, legacy=False, body_model=EncryptSignUrlBody)


@router.post(
    PATH, response_model=SignUrlReply, responses=SIGN_ERRORS, openapi_extra=_BODY_DOC, summary="Sign a URL (newer)"
)
async def encrypt_sign_url(request: Request) -> JSONResponse:
    """Sign a TikTok URL (EulerApiSdk 0.5.0 / tiktok-live-api-sdk 0.6.0); the reply is sign_url's."""
    return await sign_encrypt(request)


# Served as a plain Starlette route like sign_url (FastAPI's per-request handling costs about as much as signing);
# the FastAPI route above is never reached and stays for the OpenAPI document.
serving = APIRouter()
for _path in (PATH, PATH + "/"):
    serving.add_route(_path, sign_encrypt, methods=["POST"], include_in_schema=False)
