"""sign_url: policy first, the caller's browser honoured, URLs made consistent, identities reused."""

from __future__ import annotations

import random
from urllib.parse import quote

import pytest

from ttsign.service.policy import PolicyError, SigningPolicy
from ttsign.service.sign import SignService, SignUrlRequest, align_browser_params
from ttsign.signing import BrowserProfile, default_profile, verify_request
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import Identity, IdentityPool
from ttsign.upstream.refusals import Refusal, RefusalCode

NOW_MS = 1_767_225_600_000
FIREFOX = default_profile("firefox133-windows")
TOKEN = "M" * 148


def gift_list_url(profile: BrowserProfile) -> str:
    return (
        "https://webcast.tiktok.com/webcast/gift/list/?aid=1988&browser_name=Mozilla"
        f"&browser_version={quote(profile.browser_version, safe='')}&browser_platform=Win32&room_id=7"
    )


class Factory:
    def __init__(self, refuse: bool = False) -> None:
        self.calls = 0
        self.refuse = refuse

    async def __call__(self, profile: BrowserProfile) -> Identity | Refusal:
        self.calls += 1
        if self.refuse:
            return Refusal(RefusalCode.TIMEOUT, "cookie page")
        return Identity("7000000000000000001", profile, CookieJar({"ttwid": "tw-1", "msToken": TOKEN}), created_at=0.0)


def service(factory: Factory) -> SignService:
    return SignService(IdentityPool(factory, clock=lambda: 1.0), rng=random.Random(1), clock_ms=lambda: NOW_MS)


async def test_signs_for_the_callers_browser_with_the_identity_token() -> None:
    factory = Factory()
    result = await service(factory).sign_url(
        SignUrlRequest(gift_list_url(default_profile()), user_agent=FIREFOX.user_agent)
    )
    assert result.profile.family == "Firefox"
    assert result.tokens["msToken"] == TOKEN and "msToken=" + TOKEN in result.signed_url
    assert "browser_version=5.0%20%28Windows%29" in result.signed_url  # made consistent with the Firefox UA
    assert result.cookies == [{"name": "ttwid", "value": "tw-1", "domain": ".tiktok.com", "path": "/"}]
    assert verify_request(result.signed_url, "", FIREFOX.user_agent, now_ms=NOW_MS).ok
    assert result.identity_source == "tiktok"
    # A URL already consistent with the caller's browser is signed as it stands.
    again = await service(factory).sign_url(SignUrlRequest(gift_list_url(FIREFOX), user_agent=FIREFOX.user_agent))
    assert again.profile.family == "Firefox" and again.identity_source == "tiktok"
    assert again.signed_url.startswith(gift_list_url(FIREFOX) + "&")
    assert verify_request(again.signed_url, "", FIREFOX.user_agent, now_ms=NOW_MS).ok


async def test_identity_is_bootstrapped_once_and_its_page_state_advances() -> None:
    factory = Factory()
    signer = service(factory)
    first = await signer.sign_url(SignUrlRequest(gift_list_url(FIREFOX), user_agent=FIREFOX.user_agent))
    second = await signer.sign_url(SignUrlRequest(gift_list_url(FIREFOX), user_agent=FIREFOX.user_agent))
    assert factory.calls == 1
    assert first.signed_url != second.signed_url  # fresh X-Gnarly randomness every time


async def test_post_body_is_bound_and_legacy_signature_on_request() -> None:
    url = "https://webcast.tiktok.com/webcast/room/chat/?aid=1988&room_id=7"
    result = await service(Factory()).sign_url(
        SignUrlRequest(url, method="POST", body="content=hi", legacy_signature=True)
    )
    assert result.tokens["_signature"].startswith("_02B4Z6wo00f01")
    check = verify_request(result.signed_url, "content=hi", default_profile().user_agent, now_ms=NOW_MS)
    assert {c.name for c in check.failures} <= {"browser.browser_name", "browser.browser_version"}  # URL has none
    assert not verify_request(result.signed_url, "content=ho", default_profile().user_agent, now_ms=NOW_MS).ok


async def test_unreachable_tiktok_falls_back_to_a_generated_token() -> None:
    result = await service(Factory(refuse=True)).sign_url(SignUrlRequest(gift_list_url(default_profile())))
    assert result.identity_source == "generated"
    assert len(result.tokens["msToken"]) == 148 and result.cookies == []


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/webcast/im/fetch/",
        "https://www.tiktok.com/passport/login/",
        "ftp://webcast.tiktok.com/webcast/",
    ],
)
async def test_urls_outside_the_policy_are_refused(url: str) -> None:
    with pytest.raises(PolicyError):
        await service(Factory()).sign_url(SignUrlRequest(url))


async def test_a_user_agent_that_cannot_be_profiled_gets_the_default_browser() -> None:
    result = await service(Factory()).sign_url(SignUrlRequest(gift_list_url(FIREFOX), user_agent="python-requests/2"))
    assert result.profile == default_profile()
    assert verify_request(result.signed_url, "", default_profile().user_agent, now_ms=NOW_MS).ok


def test_align_leaves_agreeing_and_unrelated_params_byte_for_byte() -> None:
    url = gift_list_url(default_profile()) + "&x=a%20b+c"
    assert align_browser_params(url, default_profile()).replace("browser_platform=Win32", "") == url.replace(
        "browser_platform=Win32", ""
    )
    mac = default_profile("chrome131-mac")
    aligned = align_browser_params(url, mac)
    assert "browser_platform=MacIntel" in aligned and aligned.endswith("&x=a%20b+c")


def test_allow_list_entries_are_read_as_hosts_are() -> None:
    """An operator's 'WebCast.TikTok.com' or IDNA name matches the host as WHATWG serialises it."""
    policy = SigningPolicy(("WebCast.TikTok.COM", "*.Bücher.example"), ("/webcast/",))
    assert policy.check("https://webcast.tiktok.com/webcast/x") == "https://webcast.tiktok.com/webcast/x"
    assert policy.check("https://a.bücher.example/webcast/x") == "https://a.xn--bcher-kva.example/webcast/x"
    with pytest.raises(ValueError):
        SigningPolicy(("bad host/",))


async def test_the_url_signed_is_the_one_the_policy_normalised() -> None:
    url = gift_list_url(default_profile()).replace(
        "https://webcast.tiktok.com/webcast/", "HTTPS://WEBCAST.TIKTOK.COM:443/x/../webcast/"
    )
    result = await service(Factory()).sign_url(SignUrlRequest(url))
    assert result.signed_url.startswith(gift_list_url(default_profile()) + "&msToken=")
