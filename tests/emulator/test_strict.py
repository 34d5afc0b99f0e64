"""Strict im/fetch: a correctly signed request with an issued ttwid passes; any tampering is refused and named."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from ttsign.proto import webcast_pb2 as pb
from ttsign.signing import xgnarly

ROOM = "7390000000000000001"


def _flip(path: str, key: str) -> str:
    """Change one character of the value of query parameter ``key``."""
    start = path.index(key + "=") + len(key) + 1
    ch = path[start]
    return path[:start] + ("B" if ch != "B" else "C") + path[start + 1 :]


async def test_signed_request_with_issued_ttwid_gets_initial_result(start_emulator) -> None:
    emu = await start_emulator()
    ttwid = await emu.ttwid()
    path, ua = emu.signed_fetch_url()
    response = await emu.http.get(path, headers={"User-Agent": ua, "Cookie": f"ttwid={ttwid}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/protobuf")
    result = pb.ProtoMessageFetchResult.FromString(response.content)
    assert result.is_first
    assert result.cursor
    assert result.internal_ext
    assert dict(result.route_params) == {"wrss": "emu-wrss"}
    assert result.push_server == emu.url.replace("http://", "ws://") + "/webcast/im/ws_proxy/ws_reuse_supplement/"
    assert "?" not in result.push_server
    assert [m.method for m in result.messages] == ["WebcastRoomUserSeqMessage"]
    check = (await emu.log("strict_check"))[-1]
    assert check["ok"] is True
    assert "ttwid_cookie" in check["checks"]
    assert not await emu.log("strict_reject")


@pytest.mark.parametrize(("target", "failing_prefix"), [("room_id", "x_"), ("X-Bogus", "x_bogus"), ("aid", "x_")])
async def test_one_changed_byte_is_refused_with_the_check_named(start_emulator, target, failing_prefix) -> None:
    emu = await start_emulator()
    ttwid = await emu.ttwid()
    path, ua = emu.signed_fetch_url()
    tampered = _flip(path, target)
    response = await emu.http.get(tampered, headers={"User-Agent": ua, "Cookie": f"ttwid={ttwid}"})
    assert (response.status_code, response.content) == (200, b"")
    reject = (await emu.log("strict_reject"))[-1]
    assert reject["failed"]
    assert all(name.startswith(("x_bogus", "x_gnarly")) for name in reject["failed"])
    assert any(name.startswith(failing_prefix) for name in reject["failed"])


async def test_changed_user_agent_is_refused(start_emulator) -> None:
    emu = await start_emulator()
    ttwid = await emu.ttwid()
    path, ua = emu.signed_fetch_url()
    response = await emu.http.get(path, headers={"User-Agent": ua.replace("131", "132"), "Cookie": f"ttwid={ttwid}"})
    assert response.content == b""
    assert (await emu.log("strict_reject"))[-1]["failed"]


async def test_missing_or_foreign_ttwid_is_refused(start_emulator) -> None:
    emu = await start_emulator()
    path, ua = emu.signed_fetch_url()
    for cookie in ("", "ttwid=1%7Cforged%7C1%7Cabc"):
        response = await emu.http.get(path, headers={"User-Agent": ua, "Cookie": cookie})
        assert response.content == b""
        assert (await emu.log("strict_reject"))[-1]["failed"] == ["ttwid_cookie"]


async def test_reject_with_403_and_lenient_mode(start_emulator) -> None:
    emu = await start_emulator({"strict": {"reject_with": "403"}})
    response = await emu.http.get("/webcast/im/fetch/?room_id=" + ROOM)
    assert response.status_code == 403
    lenient = await start_emulator(strict=False)
    response = await lenient.http.get("/webcast/im/fetch/?room_id=" + ROOM)
    assert response.status_code == 200
    assert pb.ProtoMessageFetchResult.FromString(response.content).is_first
    check = (await lenient.log("strict_check"))[-1]
    assert check["ok"] is False
    assert check["enforced"] is False
    assert "x_bogus.present" in check["failed"]


async def test_offline_and_unknown_rooms_answer_webcast_json(start_emulator) -> None:
    offline = await start_emulator({"room": {"state": "offline"}}, strict=False)
    body = (await offline.http.get("/webcast/im/fetch/?room_id=" + ROOM)).json()
    assert body == {"status_code": 30003, "message": "room has finished", "data": {}}
    live = await start_emulator(strict=False)
    body = (await live.http.get("/webcast/im/fetch/?room_id=123")).json()
    assert body == {"status_code": 30001, "message": "room not found", "data": {}}


async def test_gnarly_version_allow_list_refuses_other_signer_versions(start_emulator) -> None:
    path, ua = (await start_emulator()).signed_fetch_url()
    version = _gnarly_version(path)
    emu = await start_emulator({"strict": {"gnarly_versions": ["4.0.0"]}})
    ttwid = await emu.ttwid()
    path, ua = emu.signed_fetch_url()
    response = await emu.http.get(path, headers={"User-Agent": ua, "Cookie": f"ttwid={ttwid}"})
    assert (response.status_code, response.content) == (200, b"")
    check = (await emu.log("strict_check"))[-1]
    assert check["failed"] == ["x_gnarly.version"]
    assert version in check["details"]["x_gnarly.version"]
    allowed = await start_emulator({"strict": {"gnarly_versions": [version]}})
    ttwid = await allowed.ttwid()
    path, ua = allowed.signed_fetch_url()
    response = await allowed.http.get(path, headers={"User-Agent": ua, "Cookie": f"ttwid={ttwid}"})
    assert pb.ProtoMessageFetchResult.FromString(response.content).is_first


@pytest.mark.parametrize(("skew", "refused"), [(3600, True), (-3600, True), (60, False)])
async def test_clock_skew_moves_the_timestamp_window(start_emulator, skew, refused) -> None:
    emu = await start_emulator({"strict": {"clock_skew_s": skew, "window_s": 300}})
    ttwid = await emu.ttwid()
    path, ua = emu.signed_fetch_url()
    response = await emu.http.get(path, headers={"User-Agent": ua, "Cookie": f"ttwid={ttwid}"})
    check = (await emu.log("strict_check"))[-1]
    if refused:
        assert response.content == b""
        assert sorted(check["failed"]) == ["x_bogus.time", "x_gnarly.time"]
    else:
        assert check["ok"] is True
        assert pb.ProtoMessageFetchResult.FromString(response.content).is_first


def _gnarly_version(path: str) -> str:
    """The payload version inside the X-Gnarly of a signed path (decoded with the signing package)."""
    token = unquote(path.split("X-Gnarly=", 1)[1].split("&", 1)[0])
    version = xgnarly.decode(token).fields.get(9)
    assert isinstance(version, str)
    return version


CONSISTENT = {
    "sec-ch-ua": '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
    "sec-ch-ua-platform": '"Windows"',
    "Sec-Fetch-Mode": "cors",
}


@pytest.mark.parametrize(
    ("changed", "refused"),
    [
        ({}, False),
        ({"sec-ch-ua-platform": '"macOS"'}, True),  # a Windows UA
        ({"sec-ch-ua": '"Google Chrome";v="120", "Chromium";v="120", "Not_A Brand";v="8"'}, True),
        ({"Sec-Fetch-Mode": "navigate"}, True),  # an API call made as a page load
    ],
)
async def test_browser_headers_must_agree_with_the_user_agent(start_emulator, changed, refused) -> None:
    emu = await start_emulator()
    ttwid = await emu.ttwid()
    path, ua = emu.signed_fetch_url()
    assert "Windows NT" in ua and "Chrome/131." in ua
    headers = {"User-Agent": ua, "Cookie": f"ttwid={ttwid}", **CONSISTENT, **changed}
    response = await emu.http.get(path, headers=headers)
    if refused:
        assert response.content == b""
        assert (await emu.log("strict_reject"))[-1]["failed"] == ["browser_headers"]
    else:
        assert response.status_code == 200 and response.content
        assert not await emu.log("strict_reject")


def test_client_hints_from_firefox_or_safari_are_a_contradiction() -> None:
    from ttsign.emulator.strict import browser_header_problem

    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    assert browser_header_problem({"sec-fetch-mode": "cors"}, firefox) is None
    assert browser_header_problem({"sec-ch-ua-platform": '"Windows"'}, firefox) is not None
    assert browser_header_problem({}, "python-httpx/0.27") is None  # no browser headers, nothing to contradict
