"""Identities: one device id, one browser profile and the cookies TikTok issued to them.

An identity is bootstrapped from TikTok's cookie-issuing page (`GET {www}/` sets `ttwid` and `msToken`),
then reused until TikTok refuses it or it ages out. The pool keeps one warm identity per profile and makes
sure concurrent requests for the same profile share a single bootstrap.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ttsign.signing import BrowserProfile, SdkSession, generate_ms_token, is_valid_ms_token
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.refusals import Refusal, classify_bootstrap, classify_transport_failure
from ttsign.upstream.transport import Transport, TransportError, TransportTimeout, UpstreamRequest

logger = logging.getLogger(__name__)

# TikTok web device ids are 19 digits and, in captures, start with 7.
_DEVICE_ID_LOW = 7_000_000_000_000_000_000
_DEVICE_ID_HIGH = 7_999_999_999_999_999_999


def new_device_id(rng: random.Random) -> str:
    return str(rng.randint(_DEVICE_ID_LOW, _DEVICE_ID_HIGH))


@dataclass(eq=False)
class Identity:
    """A TikTok web identity. Mutable on purpose: TikTok rotates `msToken` and may re-issue cookies."""

    device_id: str
    profile: BrowserProfile
    cookies: CookieJar
    created_at: float
    key: str = field(default_factory=lambda: secrets.token_hex(4))  # opaque, safe to log
    uses: int = 0
    retired: bool = False
    # The signer's page state (request counters): successive requests of one identity come from one page.
    sdk_session: SdkSession | None = field(default=None, repr=False)

    @property
    def ttwid(self) -> str:
        return self.cookies.get("ttwid") or ""

    @property
    def ms_token(self) -> str:
        return self.cookies.get("msToken") or ""

    def absorb(self, set_cookies: list[str], ms_token_header: str | None) -> None:
        """Take what TikTok handed back: new cookies and a rotated `msToken`."""
        self.cookies.update_from(set_cookies)
        if ms_token_header and is_valid_ms_token(ms_token_header):
            self.cookies.set("msToken", ms_token_header)


def browser_page_headers(profile: BrowserProfile) -> dict[str, str]:
    """Headers of a top-level page navigation by this browser."""
    return {
        "User-Agent": profile.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": profile.accept_language,
    }


async def bootstrap_identity(
    transport: Transport,
    www_base: str,
    profile: BrowserProfile,
    *,
    rng: random.Random,
    clock: Callable[[], float] = time.monotonic,
) -> Identity | Refusal:
    """Visit TikTok's front page as this browser to obtain `ttwid` (required) and `msToken`."""
    request = UpstreamRequest("GET", f"{www_base}/", browser_page_headers(profile), profile.impersonate)
    try:
        response = await transport.send(request)
    except TransportTimeout as exc:
        return classify_transport_failure(timed_out=True, detail=f"cookie page: {exc}")
    except TransportError as exc:
        return classify_transport_failure(timed_out=False, detail=f"cookie page: {exc}")
    cookies = CookieJar()
    cookies.update_from(response.header_list("set-cookie"))
    refusal = classify_bootstrap(
        response.status, response.first_headers, response.body, got_ttwid=bool(cookies.get("ttwid"))
    )
    if refusal is not None:
        return refusal
    identity = Identity(new_device_id(rng), profile, cookies, created_at=clock())
    identity.absorb([], response.header("x-ms-token"))
    if not identity.ms_token or not is_valid_ms_token(identity.ms_token):
        # The page did not hand one out: mint one the way TikTok's web SDK would before its first report.
        identity.cookies.set("msToken", generate_ms_token(rng))
    return identity


IdentityFactory = Callable[[BrowserProfile], Awaitable["Identity | Refusal"]]


class IdentityPool:
    """One warm identity per browser profile, at most `size` profiles, least recently used evicted."""

    def __init__(
        self,
        factory: IdentityFactory,
        *,
        size: int = 16,
        max_age_s: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._size = size
        self._max_age_s = max_age_s
        self._clock = clock
        self._warm: OrderedDict[str, Identity] = OrderedDict()
        self._pending: dict[str, asyncio.Task[Identity | Refusal]] = {}

    @staticmethod
    def _key(profile: BrowserProfile) -> str:
        return f"{profile.name}\x00{profile.user_agent}"

    async def acquire(self, profile: BrowserProfile) -> Identity | Refusal:
        """A usable identity for this profile, bootstrapping one (once, shared) when needed."""
        key = self._key(profile)
        identity = self._warm.get(key)
        if identity is not None and self._usable(identity):
            self._warm.move_to_end(key)
            identity.uses += 1
            return identity
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._bootstrap(key, profile))
            self._pending[key] = task
        # shield: one caller giving up must not cancel the bootstrap the others wait on.
        result = await asyncio.shield(task)
        if isinstance(result, Identity):
            result.uses += 1
        return result

    async def _bootstrap(self, key: str, profile: BrowserProfile) -> Identity | Refusal:
        try:
            result = await self._factory(profile)
        finally:
            self._pending.pop(key, None)
        if isinstance(result, Identity):
            self._warm[key] = result
            self._warm.move_to_end(key)
            while len(self._warm) > self._size:
                self._warm.popitem(last=False)
            logger.info("identity %s bootstrapped for profile %s", result.key, profile.name)
        else:
            logger.warning("identity bootstrap refused for profile %s: %s", profile.name, result.code)
        return result

    def _usable(self, identity: Identity) -> bool:
        return not identity.retired and self._clock() - identity.created_at < self._max_age_s

    def retire(self, identity: Identity, reason: str) -> None:
        """Stop using an identity TikTok refused; the next acquire bootstraps a fresh one."""
        identity.retired = True
        key = self._key(identity.profile)
        if self._warm.get(key) is identity:
            del self._warm[key]
        logger.info("identity %s retired: %s", identity.key, reason)

    def __len__(self) -> int:
        return len(self._warm)
