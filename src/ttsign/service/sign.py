"""The sign_url use case: sign any allowed TikTok webcast URL for the caller's browser.

The caller's User-Agent is honoured when a consistent profile can be derived from it, and the URL's own
`browser_*` parameters are then made to agree with that profile, because TikTok refuses a request whose
UA and browser parameters disagree. msToken and cookies come from a TikTok identity for that profile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from ttsign.service.new_identities import NewIdentityBudget
from ttsign.service.policy import SigningPolicy
from ttsign.signers.backend import SignJob
from ttsign.signers.chain import SignerChain
from ttsign.signing import BrowserProfile, ProfileError, default_profile, generate_ms_token, profile_from_user_agent
from ttsign.signing import url as urls
from ttsign.signing.sdk_session import SdkSession
from ttsign.signing.signer import SignedRequest, sign_request
from ttsign.upstream.identity import Identity, IdentityPool
from ttsign.upstream.refusals import Refusal, RefusalCode

logger = logging.getLogger(__name__)
_BROWSER_PARAMS = ("browser_name", "browser_version", "browser_platform")


@dataclass(frozen=True)
class SignUrlRequest:
    url: str
    method: str = "GET"
    user_agent: str | None = None
    body: str = ""
    legacy_signature: bool = False  # also compute `_signature` (only the legacy GET dialect reports it)
    # The caller's own ttwid (Euler's newer route): its cookie jar is then the identity, so no pooled identity's
    # ttwid or msToken is mixed in (nor disclosed). Never logged.
    ttwid: str | None = field(default=None, repr=False)
    include_browser_params: bool = False  # append the profile's browser params the URL lacks, as the page does
    caller: str | None = field(default=None, repr=False)  # the admitted caller's label (new-identity budget)


@dataclass(frozen=True)
class SignUrlResult:
    signed_url: str
    profile: BrowserProfile
    tokens: dict[str, str]
    request_headers: dict[str, str]
    cookies: list[dict[str, str]] = field(default_factory=list)
    # "tiktok" (an identity TikTok issued), "generated" (TikTok unreachable) or "caller" (the caller's ttwid)
    identity_source: str = "tiktok"


def _component(value: str) -> str:
    """Percent-encode all but RFC 3986 unreserved characters, as TikTok's web params are (e.g. `%28` for `(`)."""
    return quote(value, safe="-._~")


def align_browser_params(url: str, profile: BrowserProfile) -> str:
    """Rewrite browser_* values that disagree with `profile`, in place; other bytes stay as they are."""
    parts = urls.split(url)
    if not parts.query:
        return url
    wanted = {name: profile.browser_query()[name] for name in _BROWSER_PARAMS}
    pairs = parts.query.split("&")
    for index, pair in enumerate(pairs):
        name, sep, value = pair.partition("=")
        if name in wanted and sep and urls.unquote_value(value) != wanted[name]:
            pairs[index] = f"{name}={_component(wanted[name])}"
    return f"{parts.base}?{'&'.join(pairs)}"


def append_browser_params(url: str, profile: BrowserProfile) -> str:
    """`url` with each browser-describing param of `profile` it lacks appended (the page's set and order)."""
    query = urls.split(url).query
    present = {urls.param_name(pair) for pair in query.split("&")} if query else set()
    for name, value in profile.browser_query().items():
        if name not in present:
            url = urls.append_param(url, name, _component(value))
    return url


class SignService:
    def __init__(
        self,
        pool: IdentityPool,
        *,
        policy: SigningPolicy | None = None,
        default_profile_name: str | None = None,
        honour_client_user_agent: bool = True,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        signer: Callable[..., SignedRequest] = sign_request,  # wrapped by the app to time each signature
        identity_timeout_s: float | None = None,
        signers: SignerChain | None = None,  # the signer backends; None: `signer` in-process
        new_identities: NewIdentityBudget | None = None,
    ) -> None:
        self._new_identities = new_identities
        self._signer = signer
        self._signers = signers
        self._identity_timeout_s = identity_timeout_s
        self._pool = pool
        self.policy = policy or SigningPolicy()
        self._default = default_profile(default_profile_name)
        self._honour_ua = honour_client_user_agent
        self._rng = rng or random.SystemRandom()
        self._clock_ms = clock_ms

    def profile_for(self, user_agent: str | None, caller: str | None = None) -> BrowserProfile:
        """The caller's browser when a consistent profile can be derived from its UA, else the default one.

        Falling back is safe: both client families send the signed request with the `userAgent` we answer.
        A UA that would need a new identity spends `caller`'s new-identity budget (service/new_identities.py).
        """
        if not user_agent or not self._honour_ua:
            return self._default
        try:
            wanted = profile_from_user_agent(user_agent)
        except ProfileError:
            logger.debug("sign_url: User-Agent cannot be profiled consistently; signing as %s", self._default.name)
            return self._default
        if self._new_identities is None:
            return wanted
        return self._new_identities.choose(wanted, self._default, self._pool, caller)

    async def _identity(self, profile: BrowserProfile) -> Identity | Refusal:
        """A TikTok identity, or why not; a slow cookie page is not waited on past `identity_timeout_s`."""
        try:
            async with asyncio.timeout(self._identity_timeout_s):
                return await self._pool.acquire(profile)
        except TimeoutError:  # the bootstrap goes on (shielded in the pool) for the next caller
            return Refusal(RefusalCode.TIMEOUT, f"no identity within {self._identity_timeout_s:g} s")

    async def sign_url(self, request: SignUrlRequest) -> SignUrlResult:
        """Raise PolicyError for a URL this server will not sign; what is signed is the URL as checked."""
        url = self.policy.check(request.url)  # the browser's reading of it, which is also what the client sends
        profile = self.profile_for(request.user_agent, request.caller)
        if request.include_browser_params:
            url = append_browser_params(url, profile)
        if request.ttwid:
            return await self._sign_for_caller(request, url, profile, request.ttwid)
        acquired = await self._identity(profile)
        identity = acquired if isinstance(acquired, Identity) else None
        if identity is None:
            logger.warning(
                "sign_url: no TikTok identity for %s (%s); using a generated msToken", profile.name, acquired
            )
        ms_token = identity.ms_token if identity else generate_ms_token(self._rng)
        session = identity.sdk_session if identity else None
        signed = await self._sign(request, align_browser_params(url, profile), profile, ms_token, session)
        cookies: list[dict[str, str]] = []
        if identity is not None:
            identity.sdk_session = signed.session
            if identity.ttwid:
                cookies.append({"name": "ttwid", "value": identity.ttwid, "domain": ".tiktok.com", "path": "/"})
        return SignUrlResult(
            signed_url=signed.url,
            profile=profile,
            tokens=signed.tokens,
            request_headers=signed.headers,
            cookies=cookies,
            identity_source="tiktok" if identity else "generated",
        )

    async def _sign(
        self, request: SignUrlRequest, url: str, profile: BrowserProfile, ms_token: str, session: SdkSession | None
    ) -> SignedRequest:
        """Through the signer backends when configured (raises NoBackendSigned), else in-process."""
        now_ms = self._clock_ms()
        if self._signers is not None:
            legacy = request.legacy_signature
            job = SignJob(request.method, url, request.body, profile, now_ms, ms_token, session, legacy)
            return (await self._signers.sign(job, self._rng)).request
        return self._signer(
            request.method,
            url,
            request.body,
            profile,
            now_ms=now_ms,
            rng=self._rng,
            ms_token=ms_token,
            session=session,
            legacy_signature=request.legacy_signature,
        )

    async def _sign_for_caller(
        self, request: SignUrlRequest, url: str, profile: BrowserProfile, ttwid: str
    ) -> SignUrlResult:
        """Sign on a fresh page of the caller's own: a minted msToken, the caller's ttwid as the cookie."""
        url = align_browser_params(url, profile)
        signed = await self._sign(request, url, profile, generate_ms_token(self._rng), None)
        cookie = {"name": "ttwid", "value": ttwid, "domain": ".tiktok.com", "path": "/"}
        return SignUrlResult(signed.url, profile, signed.tokens, signed.headers, [cookie], identity_source="caller")


__all__ = ["SignService", "SignUrlRequest", "SignUrlResult", "align_browser_params", "append_browser_params"]
