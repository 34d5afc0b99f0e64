"""TikTok as it behaves since 2026-09 (`ttsign emulate --era 2026-09`, the default); `--era 2026-08` keeps the
rules from before. Every rule here models a public report; docs/emulator.md lists each with its source.

- im/fetch: any X-Gnarly or X-Dynosaur → 403 (all-chat PR #886; nglmercer docs/12). Otherwise empty 200
  unless the caller ran the live page's JavaScript (all-chat PR #889: "the session, not the signature, is
  what TikTok now judges"), modelled by a cookie the live page sets from a script, never by Set-Cookie.
- cookie pages: the home page no longer mints `ttwid`; profile and live pages mint it on a fraction of
  requests (PirateTok 0.3.0 `auth/ttwid.py`), deterministically here so tests can count.
- push socket: refuses an empty jar and a missing or foreign `ttwid` (nglmercer docs/12), a bare query
  without the browser parameters (all-chat `pure-node.ts`: "Unexpected server response: 200"), browser
  parameters that contradict the User-Agent (all-chat `identity.ts`, there for im/fetch), and a `ttwid` over
  its connects for the hour with DEVICE_BLOCKED (all-chat: ~15/hour; PirateTok: HTTP 415). Opt-in
  (`era_2026_09.socket_gnarly_versions`), and a model, not a report: an X-Gnarly of a payload version TikTok
  no longer accepts (as `strict.gnarly_versions` for im/fetch); whether the socket checks X-Gnarly at all is
  unclear, so a query without one passes (PirateTok sends none).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ttsign.signing import ProfileError, profile_from_user_agent, xgnarly

Era = Literal["2026-08", "2026-09"]
ERAS: tuple[Era, ...] = ("2026-08", "2026-09")
DEFAULT_ERA: Era = "2026-09"

JS_COOKIE = "tt_page_js"  # set by the live page's script (document.cookie), never by a Set-Cookie header
_SIGNATURES_REFUSED_ON_IM_FETCH = ("X-Gnarly", "X-Dynosaur")
# The parameters that make a socket query a browser's (a bare `compress, room_id, internal_ext, cursor` has none).
IDENTITY_PARAMS = ("aid", "app_name", "browser_language", "browser_name", "browser_platform", "browser_version")
_HOUR_S = 3600.0


@dataclass(frozen=True)
class SocketVerdict:
    """Why a 2026-09 socket handshake is refused (status, Handshake-Msg, failed check), or None to accept."""

    status: int
    message: str
    check: str


def im_fetch_refusal(query_keys: Sequence[str], cookies: Mapping[str, str], js_token_valid: bool) -> int | None:
    """The status of a 2026-09 im/fetch refusal (403, or 200 with an empty body), or None to serve it."""
    if any(name in query_keys for name in _SIGNATURES_REFUSED_ON_IM_FETCH):
        return 403
    if not js_token_valid:
        return 200
    return None


@dataclass
class MintSchedule:
    """Mints a ttwid on `fraction` of cookie-page requests, spread evenly (1/3: the 3rd, 6th, 9th ...)."""

    fraction: float
    requests: int = 0

    def next_mints(self) -> bool:
        self.requests += 1
        return math.floor(self.requests * self.fraction) > math.floor((self.requests - 1) * self.fraction)


@dataclass
class ConnectCounter:
    """Socket connects per ttwid over the last hour (moving window)."""

    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def admit(self, ttwid: str, per_hour: int, now: float | None = None) -> bool:
        """Count one connect; False when this ttwid is over its hourly connects (then nothing is counted)."""
        now = time.monotonic() if now is None else now
        window = self._seen.setdefault(ttwid, deque())
        while window and window[0] <= now - _HOUR_S:
            window.popleft()
        if len(window) >= per_hour:
            return False
        window.append(now)
        return True


def socket_verdict(
    query: Sequence[tuple[str, str]],
    user_agent: str,
    cookies: Mapping[str, str],
    *,
    ttwid_issued: bool,
    gnarly_versions: frozenset[str] | None = None,
) -> SocketVerdict | None:
    """The 2026-09 handshake checks that need no state (the connect budget is the caller's); with
    `gnarly_versions`, an X-Gnarly the query carries must be of one of them."""
    if not cookies:
        return SocketVerdict(400, "EMPTY_COOKIES", "cookie_jar")
    if not cookies.get("ttwid") or not ttwid_issued:
        return SocketVerdict(400, "TTWID_MISSING", "ttwid_cookie")
    keys = {key for key, _ in query}
    missing = [name for name in IDENTITY_PARAMS if name not in keys]
    if missing:
        return SocketVerdict(200, "", "browser_params")
    problem = browser_params_problem(query, user_agent)
    if problem is not None:
        return SocketVerdict(200, "", "browser_consistency")
    if gnarly_versions is not None and not gnarly_accepted(query, gnarly_versions):
        return SocketVerdict(200, "", "x_gnarly_version")
    return None


def gnarly_accepted(query: Sequence[tuple[str, str]], versions: frozenset[str]) -> bool:
    """No X-Gnarly, or one that decodes to a payload of an accepted version."""
    tokens = [value for key, value in query if key == "X-Gnarly"]
    if not tokens:
        return True
    try:
        version = xgnarly.decode(tokens[-1]).fields.get(9)
    except ValueError:
        return False
    return version in versions


def browser_params_problem(query: Sequence[tuple[str, str]], user_agent: str) -> str | None:
    """Why the socket's browser parameters contradict its User-Agent, or None.

    A desktop browser UA fixes `browser_platform` (navigator.platform) and `browser_version`
    (navigator.appVersion: the UA after "Mozilla/", or Firefox's short form). A UA that is no browser's has
    nothing to compare with and passes (TikTokLive 5.x opens its socket as "Python/3.11 websockets/10.4").
    """
    try:
        profile = profile_from_user_agent(user_agent)
    except ProfileError:
        return None
    versions = {user_agent.removeprefix("Mozilla/"), profile.browser_version}
    for key, value in query:
        if key == "browser_platform" and value != profile.browser_platform:
            return f"browser_platform {value!r} but the User-Agent runs on {profile.browser_platform}"
        if key == "browser_version" and value not in versions:
            return "browser_version is not the User-Agent's"
    return None
