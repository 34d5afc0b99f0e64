"""Sign a whole request the way the vendor SDK's XHR/fetch hook does (signatures.md §0).

`sign_request` is pure: the clock, the randomness and the page state come in as arguments, and the
next page state goes out with the result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import quote

from ttsign.signing import acrawler, xbogus, xgnarly
from ttsign.signing import url as urls
from ttsign.signing.environment import DEFAULT_ENVIRONMENT, SignerEnvironment
from ttsign.signing.profile import BrowserProfile
from ttsign.signing.sdk_session import Environment, RequestDigest, SdkSession

BROWSER_CHECKED_PARAMS = ("browser_name", "browser_version")  # what TikTok (and `verify`) match to the UA
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
TIKTOK_REFERER = "https://www.tiktok.com/"
TIKTOK_ORIGIN = "https://www.tiktok.com"


@dataclass(frozen=True)
class SignJob:
    """One request to sign, with everything a signer needs (no signer draws its own clock)."""

    method: str
    url: str
    body: str
    profile: BrowserProfile
    now_ms: int
    ms_token: str = ""
    session: SdkSession | None = None
    legacy_signature: bool = False


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


def with_browser_params(url: str, profile: BrowserProfile) -> str:
    """`url` (normalised) with browser_name and browser_version agreeing with `profile`.

    A value that disagrees is rewritten in place and a missing one is appended, so the signed URL passes
    the UA cross-check whatever URL the caller started from.
    """
    parts = urls.split(urls.normalize(url))
    wanted = profile.browser_query()
    pairs = parts.query.split("&") if parts.query else []
    present = set()
    for index, pair in enumerate(pairs):
        name, _, value = pair.partition("=")
        if name in BROWSER_CHECKED_PARAMS:
            present.add(name)
            if urls.unquote_value(value) != wanted[name]:
                pairs[index] = f"{name}={quote(wanted[name], safe='-._~')}"
    pairs += [f"{name}={quote(wanted[name], safe='-._~')}" for name in BROWSER_CHECKED_PARAMS if name not in present]
    return f"{parts.base}?{'&'.join(pairs)}"


def prepare_url(url: str, ms_token: str) -> str:
    """Normalise as the SDK does, drop stale signatures, and append msToken last (even when empty)."""
    return _prepare(url, ms_token)[0]


def _prepare(url: str, ms_token: str, *, with_ms_token: bool = True) -> tuple[str, str]:
    """`prepare_url`, and the msToken it appended (an endpoint without msToken gets none)."""
    parts = urls.split(urls.normalize(url))
    token = ms_token or urls.find_param(parts.query, "msToken") or ""
    query = urls.strip_params(parts.query, urls.SIGNATURE_PARAMS)
    base = f"{parts.base}?{query}" if query else parts.base
    if not with_ms_token:
        return base, ""
    return urls.append_param(base, "msToken", token), token


def _page(environment: SignerEnvironment, session: SdkSession | None, rng: random.Random, now_ms: int) -> SdkSession:
    """The page to sign in: the caller's, unless it was started under an environment of another shape."""
    if session is None or len(session.field_order) != len(environment.field_keys):
        return environment.start_session(rng, now_ms)
    if environment.fixed_policy and session.field_order != environment.fixed_order:
        return SdkSession(
            environment.fixed_order, session.init_stamp, session.total_requests, session.intercepted_requests
        )
    return session


def _path_of(url: str) -> str:
    query_at = url.find("?")
    base = url if query_at < 0 else url[:query_at]  # not urls.split: no copy of a long query
    scheme_end = base.find("://")
    slash = base.find("/", scheme_end + 3 if scheme_end >= 0 else 0)
    return base[slash:] if slash >= 0 else "/"


def _x_gnarly(
    environment: SignerEnvironment,
    digest: RequestDigest,
    env: Environment,
    page: SdkSession,
    *,
    now_ms: int,
    rng: random.Random,
) -> str:
    """X-Gnarly of the page's next request, sealed with a fresh key (random draws in the SDK's order)."""
    fields = environment.payload(
        digest, env, page, now_ms=now_ms, rand16=rng.getrandbits(16), rand32=rng.getrandbits(32)
    )
    key = rng.getrandbits(384).to_bytes(48, "little")
    return xgnarly.encode(fields, page.field_order, key, environment.payload_format)


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
    environment: SignerEnvironment = DEFAULT_ENVIRONMENT,
) -> SignedRequest:
    """Sign `method url` with `body` as `profile` at `now_ms`; `session` is the page state (a fresh page if None).

    `environment` holds every constant that is not derived from the request (versions, environment bytes,
    field order and widths, which signatures the endpoint gets); the default is the vendor SDK 5.1.3.
    """
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unsupported HTTP method {method!r}")
    profile = environment.apply(profile)
    page = _page(environment, session, rng, now_ms)
    wanted = environment.uniform_signatures or environment.signatures_for(_path_of(url))
    prepared, token = _prepare(url, ms_token, with_ms_token="msToken" in wanted)
    signed = urls.signed_string(urls.split(prepared).query)
    env = environment_of(profile)
    tokens = {"msToken": token} if "msToken" in wanted else {}
    final_url = prepared
    if "X-Bogus" in wanted:
        tokens["X-Bogus"] = xbogus.encode(
            signed,
            body,
            profile.user_agent,
            ts=now_ms // 1000,
            envcode=env.envcode,
            ubcode=env.ubcode,
            canvas=env.canvas,
        )
        final_url = urls.append_param(final_url, "X-Bogus", tokens["X-Bogus"])
    if "X-Gnarly" in wanted:
        tokens["X-Gnarly"] = _x_gnarly(
            environment, RequestDigest.of(signed, body, profile.user_agent), env, page, now_ms=now_ms, rng=rng
        )
        final_url = urls.append_param(final_url, "X-Gnarly", tokens["X-Gnarly"])
    if legacy_signature or "_signature" in wanted:
        tokens["_signature"] = acrawler.sign(
            prepared, profile.user_agent, referer=TIKTOK_REFERER, ts=now_ms // 1000, canvas=profile.canvas
        )
    return SignedRequest(method, final_url, request_headers(profile), tokens, page.after_request())


def sign_job(
    job: SignJob, rng: random.Random, *, environment: SignerEnvironment = DEFAULT_ENVIRONMENT
) -> SignedRequest:
    """`sign_request` for one job."""
    return sign_request(
        job.method,
        job.url,
        job.body,
        job.profile,
        now_ms=job.now_ms,
        rng=rng,
        ms_token=job.ms_token,
        session=job.session,
        legacy_signature=job.legacy_signature,
        environment=environment,
    )
