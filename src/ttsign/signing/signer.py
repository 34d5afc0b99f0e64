"""Sign a whole request the way the vendor SDK's XHR/fetch hook does (signatures.md §0).

`sign_request` is pure: the clock, the randomness and the page state come in as arguments, and the
next page state goes out with the result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ttsign.signing import acrawler, xbogus, xgnarly
from ttsign.signing import url as urls
from ttsign.signing.profile import BrowserProfile
from ttsign.signing.sdk_session import Environment, RequestDigest, SdkSession, fields_5_1_3

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
TIKTOK_REFERER = "https://www.tiktok.com/"
TIKTOK_ORIGIN = "https://www.tiktok.com"


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str  # the URL to send: msToken, X-Bogus and X-Gnarly appended in that order
    headers: dict[str, str]  # headers the request must carry for the signatures to hold
    tokens: dict[str, str]  # every token used, by its query-parameter name
    session: SdkSession  # the page state after this request, for the next one


def environment_of(profile: BrowserProfile) -> Environment:
    return Environment(profile.envcode, profile.ubcode, profile.canvas)


def request_headers(profile: BrowserProfile) -> dict[str, str]:
    return {
        "User-Agent": profile.user_agent,
        "Referer": TIKTOK_REFERER,
        "Origin": TIKTOK_ORIGIN,
        "Accept-Language": profile.accept_language,
    }


def prepare_url(url: str, ms_token: str) -> str:
    """Normalise as the SDK does, drop stale signatures, and append msToken last (even when empty)."""
    return _prepare(url, ms_token)[0]


def _prepare(url: str, ms_token: str) -> tuple[str, str]:
    """`prepare_url`, and the msToken it appended."""
    parts = urls.split(urls.normalize(url))
    token = ms_token or urls.find_param(parts.query, "msToken") or ""
    query = urls.strip_params(parts.query, urls.SIGNATURE_PARAMS)
    base = f"{parts.base}?{query}" if query else parts.base
    return urls.append_param(base, "msToken", token), token


def sign_request(
    method: str,
    url: str,
    body: str,
    profile: BrowserProfile,
    *,
    now_ms: int,
    rng: random.Random,
    ms_token: str = "",
    session: SdkSession | None = None,
    legacy_signature: bool = False,
) -> SignedRequest:
    """Sign `method url` with `body` as `profile` at `now_ms`; `session` is the page state (a fresh page if None)."""
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unsupported HTTP method {method!r}")
    page = session or SdkSession.start(rng, now_ms)
    prepared, token = _prepare(url, ms_token)
    signed = urls.signed_string(urls.split(prepared).query)
    env = environment_of(profile)
    x_bogus = xbogus.encode(
        signed,
        body,
        profile.user_agent,
        ts=now_ms // 1000,
        envcode=env.envcode,
        ubcode=env.ubcode,
        canvas=env.canvas,
    )
    fields = fields_5_1_3(
        RequestDigest.of(signed, body, profile.user_agent),
        env,
        page,
        now_ms=now_ms,
        rand16=rng.getrandbits(16),
        rand32=rng.getrandbits(32),
        requests_total=page.total_requests + 1,
        requests_intercepted=page.intercepted_requests,
    )
    x_gnarly = xgnarly.encode(fields, page.field_order, rng.getrandbits(384).to_bytes(48, "little"))
    tokens = {
        "msToken": token,
        "X-Bogus": x_bogus,
        "X-Gnarly": x_gnarly,
    }
    if legacy_signature:
        tokens["_signature"] = acrawler.sign(
            prepared, profile.user_agent, referer=TIKTOK_REFERER, ts=now_ms // 1000, canvas=profile.canvas
        )
    final_url = urls.append_param(urls.append_param(prepared, "X-Bogus", x_bogus), "X-Gnarly", x_gnarly)
    return SignedRequest(method, final_url, request_headers(profile), tokens, page.after_request())
