"""Strict mode: check an im/fetch request and a push handshake the way TikTok turns bots away.

im/fetch: X-Bogus and X-Gnarly present, decodable and matching the exact query bytes, body and User-Agent
header; timestamps in the window; msToken well-formed; browser_name/browser_version agreeing with the UA
(all of that is ``ttsign.signing.verify_request``), plus a ``ttwid`` cookie this emulator issued, and
browser headers that agree with the UA when they are sent: a script's fetch (``Sec-Fetch-Mode: cors``), the
UA's platform in ``sec-ch-ua-platform``, its Chromium version in ``sec-ch-ua``, and no client hints at
all from Firefox or Safari, which send none.
The push WebSocket: an issued ``ttwid`` cookie, and optionally the route params echoed back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ttsign.emulator.cookies import CookieIssuer
from ttsign.emulator.scenario import StrictHttp
from ttsign.signing import Check, ProfileError, VerifyPolicy, profile_from_user_agent, verify_request


@dataclass(frozen=True)
class Outcome:
    """Every check by name, and which failed (with a reason a human can act on)."""

    checks: tuple[str, ...]
    failures: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    def with_checks(self, checks: tuple[Check, ...]) -> Outcome:
        """This outcome plus more named checks (the vendor-script reference's)."""
        failed = tuple((check.name, check.detail) for check in checks if not check.ok)
        return Outcome(self.checks + tuple(check.name for check in checks), self.failures + failed)

    def as_log(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checks": list(self.checks),
            "failed": [name for name, _ in self.failures],
            "details": {name: detail for name, detail in self.failures},
        }


def verify_policy(options: StrictHttp) -> VerifyPolicy:
    """The signature policy of a scenario's ``strict`` block (defaults: whatever ttsign.signing accepts)."""
    if options.gnarly_versions is None:
        return VerifyPolicy(window_s=options.window_s)
    return VerifyPolicy(window_s=options.window_s, gnarly_versions=frozenset(options.gnarly_versions))


def check_im_fetch(
    raw_query: str,
    body: str,
    user_agent: str,
    cookies: Mapping[str, str],
    issuer: CookieIssuer,
    *,
    now_ms: int,
    options: StrictHttp,
    headers: Mapping[str, str] | None = None,
) -> Outcome:
    names: list[str] = []
    failures: list[tuple[str, str]] = []
    # A skewed clock: the emulator judges the signature timestamps against its own (shifted) time.
    skewed_ms = now_ms + options.clock_skew_s * 1000
    verification = verify_request(raw_query, body, user_agent, now_ms=skewed_ms, policy=verify_policy(options))
    for check in verification.checks:
        names.append(check.name)
        if not check.ok:
            failures.append((check.name, check.detail))
    names.append("ttwid_cookie")
    if not issuer.is_issued(cookies.get("ttwid")):
        failures.append(("ttwid_cookie", "no ttwid cookie issued by this emulator"))
    names.append("browser_headers")
    problem = browser_header_problem(headers or {}, user_agent)
    if problem:
        failures.append(("browser_headers", problem))
    return Outcome(tuple(names), tuple(failures))


_PLATFORM_OF_OS = {"windows": '"Windows"', "mac": '"macOS"', "linux": '"Linux"'}
_CHROMIUM = re.compile(r"Chrome/(\d+)\.")


def browser_header_problem(headers: Mapping[str, str], user_agent: str) -> str | None:
    """Why the browser headers sent contradict the UA (or a script's fetch), or None. Absent headers pass:
    HTTP libraries send none, and the signature checks already speak for them."""
    mode = headers.get("sec-fetch-mode")
    if mode is not None and mode != "cors":
        return f"Sec-Fetch-Mode {mode!r} on a webcast API call (a page's fetch() says cors)"
    try:
        profile = profile_from_user_agent(user_agent)
    except ProfileError:
        return None  # the browser-params check reports an unusable UA
    platform, brands = headers.get("sec-ch-ua-platform"), headers.get("sec-ch-ua")
    chromium = _CHROMIUM.search(user_agent)
    if chromium is None:  # Firefox, Safari
        return "client hints from a browser that sends none" if platform or brands else None
    if platform is not None and platform != _PLATFORM_OF_OS[profile.os]:
        return f"sec-ch-ua-platform {platform} but the User-Agent is a {profile.os} browser"
    if brands is not None and f'"Chromium";v="{chromium.group(1)}"' not in brands:
        return f"sec-ch-ua does not name Chromium {chromium.group(1)} as the User-Agent does"
    return None


def check_handshake(
    raw_query: str,
    cookies: Mapping[str, str],
    issuer: CookieIssuer,
    *,
    require_cookie: str | None,
    route_params: Mapping[str, str],
    require_route_params_echo: bool,
) -> Outcome:
    names: list[str] = []
    failures: list[tuple[str, str]] = []
    if require_cookie:
        names.append(f"{require_cookie}_cookie")
        value = cookies.get(require_cookie)
        issued = issuer.is_issued(value) if require_cookie == "ttwid" else bool(value)
        if not issued:
            failures.append((f"{require_cookie}_cookie", f"no {require_cookie} cookie issued by this emulator"))
    if require_route_params_echo:
        names.append("route_params_echo")
        missing = missing_route_params(raw_query, route_params)
        if missing:
            failures.append(("route_params_echo", f"route params not echoed: {', '.join(missing)}"))
    return Outcome(tuple(names), tuple(failures))


def missing_route_params(raw_query: str, route_params: Mapping[str, str]) -> list[str]:
    """Route params from the fetch result that the WebSocket query does not carry verbatim (after decoding)."""
    seen: dict[str, set[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        seen.setdefault(key, set()).add(value)
    return [key for key, value in route_params.items() if value not in seen.get(key, set())]
