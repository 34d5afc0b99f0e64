"""Profiles derived from real browser UAs, and the UAs ttsign refuses."""

from __future__ import annotations

import pytest

from ttsign.signing import DEFAULT_PROFILES, ProfileError, default_profile, profile_from_user_agent

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
)
EDGE = CHROME_WIN + " Edg/140.0.3485.54"
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:144.0) Gecko/20100101 Firefox/144.0"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15"
)
CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


def test_chrome_on_windows() -> None:
    p = profile_from_user_agent(CHROME_WIN)
    assert (p.family, p.family_version, p.os, p.browser_platform) == ("Chrome", "140.0.0.0", "windows", "Win32")
    assert p.browser_name == "Mozilla"
    assert p.browser_version == CHROME_WIN.removeprefix("Mozilla/")
    assert p.impersonate == "chrome136"
    assert (p.envcode, p.ubcode) == (1, 14)


def test_edge_is_told_apart_from_chrome_and_uses_chromes_tls() -> None:
    p = profile_from_user_agent(EDGE)
    assert (p.family, p.family_version) == ("Edge", "140.0.3485.54")
    assert p.impersonate.startswith("chrome")


def test_opera_is_a_chromium_browser_with_its_own_version() -> None:
    ua = CHROME_WIN.replace("Chrome/140.0.0.0", "Chrome/147.0.0.0") + " OPR/131.0.0.0"
    p = profile_from_user_agent(ua)
    assert (p.family, p.family_version) == ("Opera", "131.0.0.0")
    assert p.impersonate == "chrome146"  # by its Chromium version, not its own
    assert p.browser_version == ua.removeprefix("Mozilla/")


def test_firefox_app_version_is_the_short_platform_form() -> None:
    p = profile_from_user_agent(FIREFOX_MAC)
    assert (p.family, p.os, p.browser_platform) == ("Firefox", "mac", "MacIntel")
    assert p.browser_version == "5.0 (Macintosh)"
    assert p.impersonate == "firefox144"


def test_safari_and_linux_chrome() -> None:
    assert profile_from_user_agent(SAFARI).family == "Safari"
    assert profile_from_user_agent(SAFARI).impersonate == "safari17_0"
    linux = profile_from_user_agent(CHROME_LINUX)
    assert (linux.os, linux.browser_platform, linux.impersonate) == ("linux", "Linux x86_64", "chrome124")


@pytest.mark.parametrize(
    "ua",
    [
        "",
        "TikTokLive.py/7.0.1",
        "curl/8.0",
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/134.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Safari/605.1.15",
        CHROME_WIN.replace("Chrome", "Chröme"),
        "Mozilla/5.0 (" + "x" * 600 + ")",
    ],
)
def test_uas_that_cannot_be_made_consistent_are_refused(ua: str) -> None:
    with pytest.raises(ProfileError):
        profile_from_user_agent(ua)


def test_default_profiles_are_consistent_with_their_own_user_agents() -> None:
    assert len(DEFAULT_PROFILES) >= 4
    for name, profile in DEFAULT_PROFILES.items():
        rebuilt = profile_from_user_agent(profile.user_agent, name=name)
        assert rebuilt == profile
        assert profile.envcode == 1  # a browser, not the Node shim's 129
    assert default_profile() is DEFAULT_PROFILES["chrome131-windows"]
    with pytest.raises(ProfileError, match="unknown profile"):
        default_profile("netscape4")


def test_browser_query_carries_the_app_version() -> None:
    q = default_profile("firefox133-windows").browser_query()
    assert q["browser_name"] == "Mozilla"
    assert q["browser_version"] == "5.0 (Windows)"
    assert q["browser_platform"] == "Win32"
