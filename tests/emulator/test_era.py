"""The 2026-09 era (`ttsign emulate --era 2026-09`): cookie pages, im/fetch and the push socket as TikTok
behaves since 2026-09, each rule against the request that passes it and the ones it refuses."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from ttsign.emulator.era import ConnectCounter, MintSchedule, browser_params_problem
from ttsign.proto import webcast_pb2 as pb
from ttsign.signing import default_profile, xgnarly

ROOM = "7390000000000000001"
WS = "/webcast/im/ws_proxy/ws_reuse_supplement/"
CHROME = default_profile()  # Chrome 131 on Windows
EVERY_REQUEST: dict[str, Any] = {"era_2026_09": {"ttwid_mint_fraction": 1}}


def browser_query(**changes: str) -> str:
    params = {"aid": "1988", "app_name": "tiktok_web", **CHROME.browser_query(), "room_id": ROOM, "compress": "gzip"}
    params.update(changes)
    return urlencode(params, quote_via=quote)


async def issued_ttwid(emu: Any) -> str:
    emu.http.cookies.clear()  # a client that holds one of the emulator's ttwids gets no new one
    response = await emu.http.get("/@tiktok")
    return str(response.cookies["ttwid"])


def test_mint_schedule_spreads_the_fraction_evenly() -> None:
    schedule = MintSchedule(1 / 3)
    assert [schedule.next_mints() for _ in range(9)] == [False, False, True] * 3


def test_connect_counter_is_a_moving_hour_per_ttwid() -> None:
    counter = ConnectCounter()
    assert [counter.admit("a", 2, now=t) for t in (0, 1, 2)] == [True, True, False]
    assert counter.admit("b", 2, now=2)  # another ttwid has its own count
    assert counter.admit("a", 2, now=3600.5)  # the first connect left the hour


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, False),
        ({"browser_platform": "MacIntel"}, True),
        ({"browser_version": CHROME.browser_version.replace("131", "130")}, True),
    ],
)
def test_browser_params_must_agree_with_the_user_agent(changes: dict[str, str], problem: bool) -> None:
    query = [("browser_platform", CHROME.browser_platform), ("browser_version", CHROME.browser_version)]
    query += list(changes.items())
    assert (browser_params_problem(query, CHROME.user_agent) is not None) is problem
    assert browser_params_problem(query, "Python/3.11 websockets/10.4") is None  # nothing to compare with


async def test_home_page_mints_no_ttwid_and_profile_pages_one_in_three(start_emulator) -> None:
    emu = await start_emulator(era="2026-09")
    home = await emu.http.get("/")
    assert "ttwid" not in home.cookies and "msToken" in home.cookies
    minted = []
    for _ in range(6):
        emu.http.cookies.clear()
        minted.append("ttwid" in (await emu.http.get("/@tiktok")).cookies)
    assert minted == [False, False, True, False, False, True]


async def test_im_fetch_is_empty_without_the_page_script_and_403_with_x_gnarly(start_emulator) -> None:
    emu = await start_emulator(EVERY_REQUEST, era="2026-09")
    path = f"/webcast/im/fetch/?{browser_query()}"
    ttwid = await issued_ttwid(emu)
    bare = await emu.http.get(path, cookies={"ttwid": ttwid})
    assert (bare.status_code, bare.content) == (200, b"")
    page = await emu.http.get("/@emu_streamer/live")
    js_token = re.search(r'document\.cookie="tt_page_js=([^;"]+)', page.text)
    assert js_token is not None and "tt_page_js" not in page.cookies  # set by the script, not by Set-Cookie
    cookies = {"ttwid": ttwid, "tt_page_js": js_token.group(1)}
    served = await emu.http.get(path, cookies=cookies)
    assert served.status_code == 200 and pb.ProtoMessageFetchResult.FromString(served.content).push_server
    gnarly = await emu.http.get(path + "&X-Gnarly=abc", cookies=cookies)
    assert gnarly.status_code == 403


async def refused(url: str, headers: dict[str, str]) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as excinfo:
        async with connect(url, additional_headers=headers, open_timeout=5):
            pass
    response = excinfo.value.response
    return response.status_code, response.headers.get("Handshake-Msg", "")


async def test_socket_accepts_a_ttwid_with_consistent_browser_params(start_emulator) -> None:
    emu = await start_emulator(EVERY_REQUEST, era="2026-09")
    ttwid = await issued_ttwid(emu)
    url = emu.url.replace("http://", "ws://") + WS + "?" + browser_query()
    async with connect(url, additional_headers={"Cookie": f"ttwid={ttwid}", "User-Agent": CHROME.user_agent}):
        pass
    assert not await emu.log("ws_reject")


async def test_socket_refusals(start_emulator) -> None:
    emu = await start_emulator(EVERY_REQUEST, era="2026-09")
    ttwid = await issued_ttwid(emu)
    base = emu.url.replace("http://", "ws://") + WS + "?"
    ua = {"User-Agent": CHROME.user_agent}
    good = {"Cookie": f"ttwid={ttwid}", **ua}
    assert await refused(base + browser_query(), ua) == (400, "EMPTY_COOKIES")
    assert await refused(base + browser_query(), {"Cookie": "tt-target-idc=useast1a", **ua}) == (400, "TTWID_MISSING")
    bare = f"compress=gzip&room_id={ROOM}&internal_ext=&cursor=0"
    assert (await refused(base + bare, good))[0] == 200
    assert (await refused(base + browser_query(browser_platform="MacIntel"), good))[0] == 200
    failed = [entry["failed"] for entry in await emu.log("ws_reject")]
    assert failed == [["cookie_jar"], ["ttwid_cookie"], ["browser_params"], ["browser_consistency"]]


def gnarly_of_version(version: str) -> str:
    return xgnarly.encode({9: version, 10: "1.0.0.328", 1: 1}, [1, 9, 10], bytes(range(48)))


async def test_socket_gnarly_versions_refuse_an_outdated_x_gnarly_and_pass_a_query_without_one(start_emulator) -> None:
    scenario = {"era_2026_09": {"ttwid_mint_fraction": 1, "socket_gnarly_versions": ["5.1.3"]}}
    emu = await start_emulator(scenario, era="2026-09")
    ttwid = await issued_ttwid(emu)
    base = emu.url.replace("http://", "ws://") + WS + "?"
    headers = {"Cookie": f"ttwid={ttwid}", "User-Agent": CHROME.user_agent}
    for accepted in (browser_query(), browser_query(**{"X-Gnarly": gnarly_of_version("5.1.3")})):
        async with connect(base + accepted, additional_headers=headers):
            pass
    assert (await refused(base + browser_query(**{"X-Gnarly": gnarly_of_version("5.1.1")}), headers))[0] == 200
    assert (await refused(base + browser_query(**{"X-Gnarly": "not-a-token"}), headers))[0] == 200
    failed = [entry["failed"] for entry in await emu.log("ws_reject")]
    assert failed == [["x_gnarly_version"], ["x_gnarly_version"]]


async def test_without_socket_gnarly_versions_the_socket_does_not_look_at_x_gnarly(start_emulator) -> None:
    emu = await start_emulator(EVERY_REQUEST, era="2026-09")
    url = emu.url.replace("http://", "ws://") + WS + "?" + browser_query(**{"X-Gnarly": gnarly_of_version("5.1.1")})
    async with connect(
        url, additional_headers={"Cookie": f"ttwid={await issued_ttwid(emu)}", **{"User-Agent": CHROME.user_agent}}
    ):
        pass


async def test_a_ttwid_over_its_hourly_connects_is_device_blocked(start_emulator) -> None:
    scenario = {"era_2026_09": {"ttwid_mint_fraction": 1, "socket_connects_per_hour": 2}}
    emu = await start_emulator(scenario, era="2026-09")
    ttwid = await issued_ttwid(emu)
    url = emu.url.replace("http://", "ws://") + WS + "?" + browser_query()
    headers = {"Cookie": f"ttwid={ttwid}", "User-Agent": CHROME.user_agent}
    for _ in range(2):
        async with connect(url, additional_headers=headers):
            pass
    assert await refused(url, headers) == (415, "DEVICE_BLOCKED")
    fresh = {"Cookie": f"ttwid={await issued_ttwid(emu)}", "User-Agent": CHROME.user_agent}
    async with connect(url, additional_headers=fresh):  # another identity has its own budget
        pass
