"""Client hints and fetch metadata: what real browsers send, and what reaches the wire for each request."""

from __future__ import annotations

import pytest

from tests.upstream.loopback import LoopbackServer, Reply, SeenRequest
from ttsign.signing import profile_from_user_agent
from ttsign.signing.profile import _TARGETS
from ttsign.upstream.browser_headers import brand_list, client_hints
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import Identity
from ttsign.upstream.transport import CurlTransport, UpstreamRequest
from ttsign.upstream.webcast import RoomRequest, WebcastClient

pytestmark = pytest.mark.timeout(30)

WIN_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
MAC_EDGE = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/139.0.0.0 Safari/537.36 Edg/139.0.0.0"
)
LINUX_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

# sec-ch-ua values captured from real browsers (public request dumps), not computed here.
REAL_BRAND_LISTS = [
    ("Google Chrome", 100, '" Not A;Brand";v="99", "Chromium";v="100", "Google Chrome";v="100"'),
    ("Google Chrome", 106, '"Chromium";v="106", "Google Chrome";v="106", "Not;A=Brand";v="99"'),
    ("Google Chrome", 120, '"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"'),
    ("Google Chrome", 124, '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'),
    ("Google Chrome", 139, '"Not;A=Brand";v="99", "Google Chrome";v="139", "Chromium";v="139"'),
    ("Microsoft Edge", 139, '"Not;A=Brand";v="99", "Microsoft Edge";v="139", "Chromium";v="139"'),
]


@pytest.mark.parametrize(("brand", "major", "expected"), REAL_BRAND_LISTS)
def test_brand_list_is_what_real_browsers_send(brand: str, major: int, expected: str) -> None:
    assert brand_list(brand, major, major) == expected


async def test_brand_list_agrees_with_every_chrome_impersonation_target() -> None:
    """curl_cffi's Chrome targets carry the sec-ch-ua of the real Chrome they were captured from."""
    targets = [target for version, target in _TARGETS["Chrome"] if version >= 106 or version <= 101]
    transport = CurlTransport()
    try:
        async with LoopbackServer(lambda _: Reply(body=b"ok")) as server:
            for target in targets:
                await transport.send(UpstreamRequest("GET", f"{server.url}/{target}", {}, target))
    finally:
        await transport.aclose()
    assert len(server.seen) == len(targets) >= 11
    for seen in server.seen:
        major = int(seen.target.removeprefix("/chrome"))
        assert seen.header("sec-ch-ua") == brand_list("Google Chrome", major, major), seen.target


def test_client_hints_follow_the_profile() -> None:
    edge = client_hints(profile_from_user_agent(MAC_EDGE))
    assert edge["sec-ch-ua"] == '"Not;A=Brand";v="99", "Microsoft Edge";v="139", "Chromium";v="139"'
    assert edge["sec-ch-ua-platform"] == '"macOS"' and edge["sec-ch-ua-mobile"] == "?0"
    assert client_hints(profile_from_user_agent(WIN_CHROME))["sec-ch-ua-platform"] == '"Windows"'
    assert client_hints(profile_from_user_agent(LINUX_FIREFOX)) == {}  # Firefox sends no client hints


def identity_for(user_agent: str) -> Identity:
    cookies = CookieJar({"ttwid": "1%7Cissued%7C1", "msToken": "M" * 148})
    return Identity("7123456789012345678", profile_from_user_agent(user_agent), cookies, created_at=0.0)


async def fetched(user_agent: str) -> SeenRequest:
    transport = CurlTransport()
    try:
        async with LoopbackServer(lambda _: Reply(body=b"")) as server:
            client = WebcastClient(transport, webcast_base=server.url)
            await client.fetch(identity_for(user_agent), RoomRequest("7390000000000000001"))
    finally:
        await transport.aclose()
    return server.seen[0]


async def test_im_fetch_goes_out_as_a_same_site_script_fetch_of_the_profiles_browser() -> None:
    seen = await fetched(WIN_CHROME)
    assert seen.header("sec-ch-ua-platform") == '"Windows"'  # the impersonation alone says "macOS"
    assert seen.header("sec-ch-ua") == brand_list("Google Chrome", 131, 131)
    assert (seen.header("Sec-Fetch-Site"), seen.header("Sec-Fetch-Mode"), seen.header("Sec-Fetch-Dest")) == (
        "same-site",
        "cors",
        "empty",
    )
    assert seen.header("Upgrade-Insecure-Requests") is None and seen.header("Sec-Fetch-User") is None
    assert [name.lower() for name, _ in seen.headers].count("sec-ch-ua") == 1


async def test_firefox_im_fetch_carries_no_client_hints() -> None:
    seen = await fetched(LINUX_FIREFOX)
    assert seen.header("sec-ch-ua") is None and seen.header("sec-ch-ua-platform") is None
    assert seen.header("Sec-Fetch-Mode") == "cors" and seen.header("Upgrade-Insecure-Requests") is None
