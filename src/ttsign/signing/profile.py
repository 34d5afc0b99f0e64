"""Browser profiles: one object that keeps a User-Agent and everything TikTok cross-checks with it.

TikTok rejects a request whose `browser_name`/`browser_version` query params, User-Agent header, TLS
fingerprint and signer environment disagree, so all of them are derived here from one real UA.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType

MAX_UA_LENGTH = 512


class ProfileError(ValueError):
    """A User-Agent that cannot be made into a consistent browser profile."""


@dataclass(frozen=True)
class BrowserProfile:
    name: str
    user_agent: str
    browser_name: str  # navigator.appCodeName, what TikTok's `browser_name` param carries
    browser_version: str  # navigator.appVersion, what TikTok's `browser_version` param carries
    browser_platform: str  # navigator.platform
    family: str  # Chrome | Edge | Opera | Firefox | Safari
    family_version: str
    os: str  # windows | mac | linux
    screen_width: int
    screen_height: int
    language: str
    tz_name: str
    envcode: int  # signer environment: 1 in a real browser (129 = the SDK's "suspicious" bit set)
    ubcode: int  # 14 once the SDK is initialised for aid 1988
    canvas: int  # H(canvas.toDataURL()) of this browser's fingerprint canvas
    impersonate: str  # curl_cffi target with this browser's TLS and HTTP/2 fingerprint

    def browser_query(self) -> dict[str, str]:
        """The browser-describing query params of a TikTok web request (values not yet URL-encoded)."""
        return {
            "browser_language": self.language,
            "browser_name": self.browser_name,
            "browser_online": "true",
            "browser_platform": self.browser_platform,
            "browser_version": self.browser_version,
            "cookie_enabled": "true",
            "screen_height": str(self.screen_height),
            "screen_width": str(self.screen_width),
            "tz_name": self.tz_name,
        }

    @property
    def accept_language(self) -> str:
        primary = self.language.split("-")[0]
        return f"{self.language},{primary};q=0.9"


@dataclass(frozen=True)
class _OsTraits:
    platform: str
    firefox_app_version: str
    screen: tuple[int, int]
    canvas: int


# Canvas values seen from real browsers (signatures.md §1); one per OS keeps a profile stable.
_OS_TRAITS = {
    "windows": _OsTraits("Win32", "5.0 (Windows)", (1920, 1080), 0x4A41279F),
    "mac": _OsTraits("MacIntel", "5.0 (Macintosh)", (1440, 900), 0x58C2B01A),
    "linux": _OsTraits("Linux x86_64", "5.0 (X11)", (1920, 1080), 0x2000BE90),
}

# curl_cffi impersonation targets by family: (major version, target), ascending. Edge shares Chrome's TLS stack.
_TARGETS: dict[str, tuple[tuple[int, str], ...]] = {
    "Chrome": (
        (99, "chrome99"), (100, "chrome100"), (101, "chrome101"), (104, "chrome104"), (107, "chrome107"),
        (110, "chrome110"), (116, "chrome116"), (119, "chrome119"), (120, "chrome120"), (123, "chrome123"),
        (124, "chrome124"), (131, "chrome131"), (136, "chrome136"), (142, "chrome142"), (145, "chrome145"),
        (146, "chrome146"),
    ),
    "Firefox": ((133, "firefox133"), (135, "firefox135"), (144, "firefox144"), (147, "firefox147")),
    "Safari": ((15, "safari15_5"), (17, "safari17_0"), (18, "safari18_0")),
}  # fmt: skip

_REFUSED_MARKERS = (
    "Mobile", "Android", "iPhone", "iPad", "CrOS", "Headless", "Opera Mini", "OPT/", "YaBrowser",
    "SamsungBrowser", "UCBrowser", "Electron", "bot", "Bot", "spider", "crawl",
)  # fmt: skip
_EDGE = re.compile(r"\bEdg/(\d+)(?:\.\d+)*")
_OPERA = re.compile(r"\bOPR/(\d+)(?:\.\d+)*")
_CHROME = re.compile(r"\bChrome/(\d+)\.(\d+)\.(\d+)\.(\d+) Safari/537\.36\b")
_FIREFOX = re.compile(r"\brv:(\d+)\.\d+\) Gecko/20100101 Firefox/((\d+)\.\d+)$")
_SAFARI = re.compile(r"\bVersion/((\d+)(?:\.\d+)*) (?:Mobile/\w+ )?Safari/(\d+)(?:\.\d+)*$")


def _impersonation(family: str, major: int) -> str:
    """The closest curl_cffi target at or below `major` of the browser engine (Chromium for Edge and Opera)."""
    table = _TARGETS["Chrome" if family in ("Edge", "Opera") else family]
    chosen = table[0][1]
    for version, target in table:
        if version <= major:
            chosen = target
    return chosen


def _os_of(user_agent: str) -> str:
    head = user_agent[len("Mozilla/5.0 (") :].split(")", 1)[0]
    if head.startswith("Windows NT "):
        return "windows"
    if head.startswith("Macintosh; Intel Mac OS X"):
        return "mac"
    if head.startswith("X11;") and "Linux" in head:
        return "linux"
    raise ProfileError(
        f"unsupported operating system in User-Agent ({head!r}); use a Windows, macOS or Linux desktop UA"
    )


def _family_of(user_agent: str) -> tuple[str, str, int]:
    """(family, family_version, engine major) of a desktop Chrome, Edge, Opera, Firefox or Safari UA."""
    chrome = _CHROME.search(user_agent)
    if chrome:
        chromium_major = int(chrome.group(1))
        for family, pattern in (("Edge", _EDGE), ("Opera", _OPERA)):
            found = pattern.search(user_agent)
            if found:
                prefix = len(found.group(0).split("/")[0]) + 1
                return family, user_agent[found.start() + prefix :].split(" ", maxsplit=1)[0], chromium_major
        return "Chrome", ".".join(chrome.groups()), chromium_major
    firefox = _FIREFOX.search(user_agent)
    if firefox:
        if firefox.group(1) != firefox.group(3):
            raise ProfileError("Firefox User-Agent has rv: and Firefox/ versions that disagree")
        return "Firefox", firefox.group(2), int(firefox.group(3))
    safari = _SAFARI.search(user_agent)
    if safari and "Chrome/" not in user_agent and "Chromium/" not in user_agent:
        return "Safari", safari.group(1), int(safari.group(2))
    raise ProfileError("unsupported browser in User-Agent; supported: desktop Chrome, Edge, Opera, Firefox and Safari")


@lru_cache(maxsize=512)
def profile_from_user_agent(user_agent: str, *, name: str | None = None) -> BrowserProfile:
    """Derive a consistent profile from a real desktop browser UA, or raise ProfileError saying why not.

    Cached: clients send the same few UAs over and over (a refusal is not cached; it raises again).
    """
    if not user_agent or len(user_agent) > MAX_UA_LENGTH:
        raise ProfileError(f"User-Agent must be 1..{MAX_UA_LENGTH} characters")
    if not user_agent.isascii() or not user_agent.isprintable():
        raise ProfileError("User-Agent must be printable ASCII")
    if not user_agent.startswith("Mozilla/5.0 ("):
        raise ProfileError("User-Agent must start with 'Mozilla/5.0 (' like every real browser's")
    marker = next((m for m in _REFUSED_MARKERS if m in user_agent), None)
    if marker:
        raise ProfileError(f"User-Agent looks like {marker.strip('/')}, which ttsign cannot profile consistently")
    os_name = _os_of(user_agent)
    family, family_version, major = _family_of(user_agent)
    if family == "Safari" and os_name != "mac":
        raise ProfileError("Safari User-Agent must be a macOS one")
    traits = _OS_TRAITS[os_name]
    app_version = traits.firefox_app_version if family == "Firefox" else user_agent[len("Mozilla/") :]
    return BrowserProfile(
        name=name or f"{family.lower()}{major}-{os_name}",
        user_agent=user_agent,
        browser_name="Mozilla",
        browser_version=app_version,
        browser_platform=traits.platform,
        family=family,
        family_version=family_version,
        os=os_name,
        screen_width=traits.screen[0],
        screen_height=traits.screen[1],
        language="en-US",
        tz_name="America/New_York",
        envcode=1,
        ubcode=14,
        canvas=traits.canvas,
        impersonate=_impersonation(family, major),
    )


DEFAULT_USER_AGENTS: Mapping[str, str] = {
    "chrome131-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "chrome131-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "edge131-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "firefox133-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "safari18-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
}
DEFAULT_PROFILE_NAME = "chrome131-windows"
DEFAULT_PROFILES: Mapping[str, BrowserProfile] = MappingProxyType(
    {name: profile_from_user_agent(ua, name=name) for name, ua in DEFAULT_USER_AGENTS.items()}
)


def default_profile(name: str | None = None) -> BrowserProfile:
    key = name or DEFAULT_PROFILE_NAME
    try:
        return DEFAULT_PROFILES[key]
    except KeyError:
        known = ", ".join(DEFAULT_PROFILES)
        raise ProfileError(f"unknown profile {key!r}; known profiles: {known}") from None


def with_environment(profile: BrowserProfile, *, envcode: int, ubcode: int, canvas: int) -> BrowserProfile:
    """The same browser with another signer environment (e.g. to replay a vector from the Node shim)."""
    return replace(profile, envcode=envcode, ubcode=ubcode, canvas=canvas)
