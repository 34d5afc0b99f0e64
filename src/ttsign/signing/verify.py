"""Verify a signed request the way TikTok rejects bots: every signature decoded and bound to the request.

Used by the emulator (to refuse like TikTok) and by `ttsign verify`. Each check is a named value, so a
refusal can say exactly which part of a request was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ttsign.signing import url as urls
from ttsign.signing import xbogus, xgnarly
from ttsign.signing.digest import md5hex
from ttsign.signing.mstoken import is_valid_ms_token
from ttsign.signing.profile import ProfileError, profile_from_user_agent
from ttsign.signing.sdk_session import checksum_holds

# The payload versions of the built-in signer environments (signing/environment.py).
KNOWN_GNARLY_VERSIONS = frozenset({"5.1.3", "5.1.3-ZTCA", "5.1.1", "5.1.0"})


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Verification:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)


@dataclass(frozen=True)
class VerifyPolicy:
    window_s: int = 300
    require_x_gnarly: bool = True
    require_ms_token: bool = True
    check_browser_params: bool = True
    gnarly_versions: frozenset[str] = field(default_factory=lambda: KNOWN_GNARLY_VERSIONS)
    chacha_rounds: int = 0  # 0: the key decides (every known SDK); a signer environment may fix it


class _Checks:
    def __init__(self) -> None:
        self.items: list[Check] = []

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.items.append(Check(name, ok, "" if ok else detail))
        return ok


def verify_request(
    url: str, body: str, user_agent: str, *, now_ms: int, policy: VerifyPolicy | None = None
) -> Verification:
    """Check the signatures on `url` (a full URL or a raw query string) against its body and UA header."""
    policy = policy or VerifyPolicy()
    query = urls.split(url).query if "?" in url else url
    request = _Request(query, urls.signed_string(urls.unsigned_query(query)), body, user_agent, now_ms, policy)
    checks = _Checks()
    bogus = _verify_x_bogus(checks, request)
    _verify_x_gnarly(checks, request, bogus)
    _verify_ms_token(checks, query, policy)
    if policy.check_browser_params:
        _verify_browser_params(checks, query, user_agent)
    return Verification(tuple(checks.items))


@dataclass(frozen=True)
class _Request:
    query: str  # as sent, signatures included
    signed: str  # what the signatures cover
    body: str
    user_agent: str
    now_ms: int
    policy: VerifyPolicy

    def in_window(self, ts: object) -> bool:
        return isinstance(ts, int) and abs(self.now_ms // 1000 - ts) <= self.policy.window_s


def _verify_x_bogus(checks: _Checks, request: _Request) -> xbogus.XBogus | None:
    token = urls.find_param(request.query, "X-Bogus")
    if token is None:
        checks.add("x_bogus.present", False, "no X-Bogus parameter")
        return None
    checks.add("x_bogus.present", True)
    try:
        decoded = xbogus.decode(token)
    except xbogus.XBogusError as exc:
        checks.add("x_bogus.format", False, str(exc))
        return None
    checks.add("x_bogus.format", True)
    match = xbogus.match(decoded, request.signed, request.body, request.user_agent)
    checks.add("x_bogus.query", match.query, "query hash does not match the query sent")
    checks.add("x_bogus.body", match.body, "body hash does not match the body sent")
    checks.add("x_bogus.user_agent", match.user_agent, "UA hash does not match the User-Agent header")
    checks.add(
        "x_bogus.time",
        request.in_window(decoded.ts),
        f"timestamp {decoded.ts} outside window",
    )
    return decoded


def _verify_x_gnarly(checks: _Checks, request: _Request, bogus: xbogus.XBogus | None) -> None:
    token = urls.find_param(request.query, "X-Gnarly")
    if token is None:
        if request.policy.require_x_gnarly:
            checks.add("x_gnarly.present", False, "no X-Gnarly parameter")
        return
    checks.add("x_gnarly.present", True)
    try:
        envelope = xgnarly.decode(token, request.policy.chacha_rounds)
    except xgnarly.XGnarlyError as exc:
        checks.add("x_gnarly.format", False, str(exc))
        return
    checks.add("x_gnarly.format", True)
    fields = envelope.fields
    version = fields.get(9)
    checks.add(
        "x_gnarly.version",
        version in request.policy.gnarly_versions,
        f"payload version {version!r} not allowed",
    )
    checks.add("x_gnarly.checksum", checksum_holds(fields), "field checksum does not match")
    if isinstance(fields.get(14), int):
        ok = int(fields[14]) >> 16 == fields.get(1)
        checks.add("x_gnarly.envcode", ok, "field 14 does not carry the envcode of field 1")
    expect: list[tuple[str, int, Callable[[], str]]] = [
        ("x_gnarly.query", 3, lambda: md5hex(request.signed)),
        ("x_gnarly.body", 4, lambda: md5hex(request.body)),
        ("x_gnarly.user_agent", 5, lambda: md5hex(request.user_agent)),
    ]
    for name, key, compute in expect:
        checks.add(name, fields.get(key) == compute(), f"field {key} does not match the request")
    ts = fields.get(6)
    checks.add(
        "x_gnarly.time",
        request.in_window(ts),
        "time outside window",
    )
    if bogus is not None:
        agree = (fields.get(6), fields.get(7), fields.get(1), fields.get(2)) == (
            bogus.ts,
            bogus.canvas,
            bogus.envcode,
            bogus.ubcode,
        )
        checks.add("x_gnarly.agrees_with_x_bogus", agree, "time, canvas or environment differ from X-Bogus")


def _verify_ms_token(checks: _Checks, query: str, policy: VerifyPolicy) -> None:
    token = urls.find_param(query, "msToken")
    if token is None:
        if policy.require_ms_token:
            checks.add("ms_token.present", False, "no msToken parameter")
        return
    checks.add("ms_token.format", is_valid_ms_token(urls.unquote_value(token)), "msToken is not a well-formed token")


def _verify_browser_params(checks: _Checks, query: str, ua: str) -> None:
    try:
        profile = profile_from_user_agent(ua)
    except ProfileError as exc:
        checks.add("browser.user_agent", False, str(exc))
        return
    for param, expected in (
        ("browser_name", profile.browser_name),
        ("browser_version", profile.browser_version),
    ):
        raw = urls.find_param(query, param)
        sent = urls.unquote_value(raw) if raw is not None else None
        checks.add(f"browser.{param}", sent == expected, f"{param}={sent!r} does not match the User-Agent")
