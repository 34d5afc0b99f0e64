"""Strict mode: check an im/fetch request and a push handshake the way TikTok turns bots away.

im/fetch: X-Bogus and X-Gnarly present, decodable and matching the exact query bytes, body and User-Agent
header; timestamps in the window; msToken well-formed; browser_name/browser_version agreeing with the UA
(all of that is ``ttsign.signing.verify_request``), plus a ``ttwid`` cookie this emulator issued.
The push WebSocket: an issued ``ttwid`` cookie, and optionally the route params echoed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ttsign.emulator.cookies import CookieIssuer
from ttsign.emulator.scenario import StrictHttp
from ttsign.signing import VerifyPolicy, verify_request


@dataclass(frozen=True)
class Outcome:
    """Every check by name, and which failed (with a reason a human can act on)."""

    checks: tuple[str, ...]
    failures: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.failures

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
    return Outcome(tuple(names), tuple(failures))


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
