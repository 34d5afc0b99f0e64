"""How an identity is obtained: visit a www.tiktok.com page as the browser until it mints a `ttwid`.

Since late 2026 the home page no longer mints `ttwid` reliably, profile pages (`/@name`, `/@tiktok`) still do,
and only on a fraction of requests, so a bootstrap tries the streamer's page (when the connect names one),
then the configured pages, each a bounded number of times, a short pause apart (PirateTok 0.3.0
`auth/ttwid.py`: 8 tries on `/@target` then `/@tiktok`; field-notes-2026-12 §1.2). Only "no ttwid" is tried again:
a challenge page, a 403 or DEVICE_BLOCKED is the answer, and another try would only dig deeper.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from ttsign.signing import BrowserProfile, generate_ms_token, is_valid_ms_token
from ttsign.upstream.browser_headers import navigation_headers
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity.value import Identity, new_device_id
from ttsign.upstream.refusals import Refusal, RefusalCode, classify_bootstrap, classify_transport_failure
from ttsign.upstream.transport import Transport, TransportError, TransportTimeout, UpstreamRequest, UpstreamResponse

Sleep = Callable[[float], Awaitable[None]]
_NO_SUCH_PAGE = 404


def browser_page_headers(profile: BrowserProfile) -> dict[str, str]:
    """Headers of a top-level page navigation by this browser."""
    return {
        "User-Agent": profile.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": profile.accept_language,
        **navigation_headers(profile),
    }


async def bootstrap_identity(
    transport: Transport,
    www_base: str,
    profile: BrowserProfile,
    name: str | None = None,
    *,
    rng: random.Random,
    clock: Callable[[], float] = time.monotonic,
    pages: Sequence[str] = ("/",),
    attempts: int = 1,
    retry_delay_s: float = 0.0,
    sleep: Sleep = asyncio.sleep,
) -> Identity | Refusal:
    """Visit the cookie pages in order as this browser (the streamer `name`'s profile page first, when given),
    up to `attempts` times each, until one mints a `ttwid` (required); `msToken` is taken when offered, else
    minted as the web SDK would."""
    tries = 0
    visits = list(dict.fromkeys([f"/@{name}", *pages] if name else pages))
    for page in visits:
        for _ in range(attempts):
            if tries:
                await sleep(retry_delay_s)
            tries += 1
            outcome = await _visit(transport, f"{www_base}{page}", profile)
            if isinstance(outcome, Refusal):
                if outcome.code is RefusalCode.NO_TTWID:
                    continue
                if outcome.upstream_status == _NO_SUCH_PAGE:
                    break  # e.g. a streamer who does not exist: the next page, not another try
                return outcome
            return _identity(outcome, profile, rng, clock)
    return Refusal(RefusalCode.NO_TTWID, f"no ttwid after {tries} tries on {', '.join(visits)}")


async def _visit(transport: Transport, url: str, profile: BrowserProfile) -> UpstreamResponse | Refusal:
    """One page visit: the response when it minted a ttwid, else why not."""
    request = UpstreamRequest("GET", url, browser_page_headers(profile), profile.impersonate)
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
    return refusal if refusal is not None else response


def _identity(
    response: UpstreamResponse, profile: BrowserProfile, rng: random.Random, clock: Callable[[], float]
) -> Identity:
    cookies = CookieJar()
    cookies.update_from(response.header_list("set-cookie"))
    identity = Identity(new_device_id(rng), profile, cookies, created_at=clock())
    identity.absorb([], response.header("x-ms-token"))
    if not identity.ms_token or not is_valid_ms_token(identity.ms_token):
        # The page did not hand one out: mint one the way TikTok's web SDK would before its first report.
        identity.cookies.set("msToken", generate_ms_token(rng))
    return identity
