"""The connect routes over ASGI with a fake TikTok: wire shapes the clients depend on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.upstream.fake_tiktok import FETCH_PATH, FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ROUTES = ["/webcast/fetch", "/webcast/fetch/"]


@pytest.fixture
def tiktok() -> FakeTikTok:
    return FakeTikTok()


@pytest.fixture
async def client(tiktok: FakeTikTok) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", **FETCH_PATH), transport=tiktok
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign") as http:
        yield http


def python_query(room_id: str = "7390000000000000001") -> dict[str, str]:
    # What TikTokLive 7.0.1 sends (sign-api.md §2.1).
    return {
        "client": "ttlive-python",
        "room_id": room_id,
        "user_agent": CHROME_UA,
        "platform": "web",
        "client_enter": "true",
        "tt_target_idc": "useast1a",
        "uuc": "1",
        "apiKey": "",
    }


@pytest.mark.parametrize("path", ROUTES)
async def test_fetch_answers_raw_protobuf_with_the_cookie_header(
    client: httpx.AsyncClient, tiktok: FakeTikTok, path: str
) -> None:
    response = await client.get(path, params=python_query())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    result = ProtoMessageFetchResult()
    result.ParseFromString(response.content)
    assert result.cursor == "cursor-7390000000000000001" and result.push_server and result.is_first
    cookie = response.headers["x-set-tt-cookie"]
    assert cookie.startswith("ttwid=")
    assert cookie.split(";")[0] == "ttwid=" + tiktok.fetches[0].headers["Cookie"].split(";")[0].split("=", 1)[1]
    assert response.headers["x-room-id"] == "7390000000000000001"
    assert len(response.headers["x-request-id"]) >= 16
    assert tiktok.fetches[0].headers["User-Agent"] == CHROME_UA
    assert tiktok.verification_failures == []


async def test_node_connect_route(client: httpx.AsyncClient, tiktok: FakeTikTok) -> None:
    response = await client.get(
        "/webcast/rooms/7390000000000000002/connect",
        params={"client": "ttlive-node", "user_agent": CHROME_UA, "client_enter": "true", "platform": "web"},
        headers={"Accept": "application/protobuf,application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-room-id"] == "7390000000000000002"
    assert "room_id=7390000000000000002" in tiktok.fetches[0].url


async def test_cursor_and_internal_ext_are_forwarded(client: httpx.AsyncClient, tiktok: FakeTikTok) -> None:
    await client.get("/webcast/fetch", params={"room_id": "5", "cursor": "c-9", "internal_ext": "ie:1|x"})
    url = tiktok.fetches[0].url
    assert "cursor=c-9" in url and "internal_ext=ie%3A1%7Cx" in url


async def test_request_ids_differ(client: httpx.AsyncClient) -> None:
    first = await client.get("/webcast/fetch", params={"room_id": "5"})
    second = await client.get("/webcast/fetch", params={"room_id": "5"})
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    ("mode", "status", "reason"),
    [
        ("empty", 502, "empty_200"),
        ("forbidden", 502, "forbidden_403"),
        ("captcha", 502, "captcha"),
        ("garbled", 502, "malformed_payload"),
        ("5xx", 502, "upstream_5xx"),
        ("reset", 502, "transport_error"),
        ("timeout", 504, "timeout"),
        ("not_live", 404, "room_not_live"),
        ("not_found", 404, "room_not_found"),
    ],
)
async def test_refusals_map_to_json_errors_never_an_empty_200(
    client: httpx.AsyncClient, tiktok: FakeTikTok, mode: str, status: int, reason: str
) -> None:
    tiktok.mode = mode
    response = await client.get("/webcast/fetch", params=python_query())
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == status and body["reason"] == reason
    assert body["message"] and body["hint"]
    assert response.headers["x-log-code"] == reason
    assert body["request_id"] == response.headers["x-request-id"]
    assert "x-set-tt-cookie" not in response.headers


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"room_id": ""},
        {"room_id": "abc"},
        {"room_id": "0"},
        {"room_id": "1", "cursor": "a b"},
        {"unique_id": "bad id!"},
    ],
)
async def test_bad_input_is_a_400_json(client: httpx.AsyncClient, tiktok: FakeTikTok, params: dict[str, str]) -> None:
    response = await client.get("/webcast/fetch", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.headers["x-request-id"]
    assert tiktok.requests == []


async def test_bad_room_in_path(client: httpx.AsyncClient) -> None:
    response = await client.get("/webcast/rooms/not-a-room/connect")
    assert response.status_code == 400 and response.json()["reason"] == "bad_request"


async def test_mobile_platform_is_refused_clearly(client: httpx.AsyncClient) -> None:
    response = await client.get("/webcast/fetch", params={"room_id": "1", "platform": "mobile"})
    assert response.status_code == 400 and response.json()["reason"] == "unsupported_platform"


async def test_session_id_is_ignored_by_default(
    client: httpx.AsyncClient, tiktok: FakeTikTok, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    response = await client.get("/webcast/fetch", params={"room_id": "1", "session_id": "SECRET-SESSION"})
    assert response.status_code == 200
    assert all("SECRET-SESSION" not in r.url and "SECRET-SESSION" not in str(r.headers) for r in tiktok.requests)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("ttsign")]
    assert ours and not any("SECRET-SESSION" in line for line in ours)


async def test_session_id_can_be_refused(tiktok: FakeTikTok) -> None:
    app = create_app(
        Settings(upstream="http://127.0.0.1:9", session_id_policy="refuse", **FETCH_PATH), transport=tiktok
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/webcast/fetch", params={"room_id": "1", "session_id": "SECRET"})
    assert response.status_code == 400
    assert response.json()["reason"] == "session_forwarding_disabled"
    assert "SECRET" not in response.text
    assert tiktok.requests == []


async def test_unknown_route_is_json_404_without_redirects(client: httpx.AsyncClient) -> None:
    for path in ["/nope", "/webcast/fetch//", "/webcast/rooms/1/connect/"]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["reason"] == "not_found"


async def test_wrong_method_is_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/webcast/fetch")
    assert response.status_code == 405
    assert response.json()["code"] == 405


async def test_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/webcast/fetch", content=b"x" * (70 * 1024))
    assert response.status_code == 413
    assert response.json()["reason"] == "payload_too_large"


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_unexpected_errors_are_json_500_without_traceback(tiktok: FakeTikTok) -> None:
    class Broken(FakeTikTok):
        async def send(self, request: object) -> object:  # type: ignore[override]
            raise RuntimeError("boom /secret/path")

    app = create_app(Settings(upstream="http://127.0.0.1:9", **FETCH_PATH), transport=Broken())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/webcast/fetch", params={"room_id": "1"})
    assert response.status_code == 500
    assert response.json()["reason"] == "internal_error"
    assert "Traceback" not in response.text and "boom" not in response.text


@pytest.mark.parametrize("params", [{"unique_id": "emu_streamer"}, {"room_id": "0", "unique_id": "@emu_streamer"}])
async def test_unique_id_is_looked_up(client: httpx.AsyncClient, tiktok: FakeTikTok, params: dict[str, str]) -> None:
    response = await client.get("/webcast/fetch", params={"client": "ttlive-node", **params})
    assert response.status_code == 200, response.text
    assert response.headers["x-room-id"] == "7390000000000000001"
    assert "room_id=7390000000000000001" in tiktok.fetches[0].url


async def test_unknown_unique_id_is_room_not_found(client: httpx.AsyncClient, tiktok: FakeTikTok) -> None:
    response = await client.get("/webcast/fetch", params={"unique_id": "nobody_here"})
    assert response.status_code == 404 and response.json()["reason"] == "room_not_found"
    assert tiktok.fetches == []


async def test_browser_user_agent_header_is_used_when_no_param(client: httpx.AsyncClient, tiktok: FakeTikTok) -> None:
    # TikTokLive 5.x sends the whole TikTok query from its browser-like HTTP client.
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    params = {"aid": "1988", "room_id": "5", "client": "ttlive-python", "uuc": "1", "apiKey": "", "msToken": ""}
    response = await client.get("/webcast/fetch/", params=params, headers={"User-Agent": firefox})
    assert response.status_code == 200
    assert tiktok.fetches[0].headers["User-Agent"] == firefox


async def test_library_user_agent_header_falls_back_to_the_default(
    client: httpx.AsyncClient, tiktok: FakeTikTok
) -> None:
    await client.get("/webcast/fetch", params={"room_id": "5"}, headers={"User-Agent": "TikTokLive.py/7.0.1"})
    assert tiktok.fetches[0].headers["User-Agent"].startswith("Mozilla/5.0")


@pytest.mark.parametrize("path", [*ROUTES, "/webcast/rooms/7390000000000000001/connect"])
async def test_default_settings_answer_directly_and_say_so(tiktok: FakeTikTok, path: str) -> None:
    """The default strategies (direct, then fetch): no im/fetch, the strategy and the identity's UA in headers."""
    app = create_app(Settings(upstream="http://127.0.0.1:9"), transport=tiktok)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign") as http:
        response = await http.get(path, params=python_query())
    assert response.status_code == 200, response.text
    assert response.headers["x-ttsign-strategy"] == "direct"
    assert response.headers["x-set-tt-user-agent"] == CHROME_UA
    assert response.headers["x-set-tt-cookie"].startswith("ttwid=1%7Cttwid-")
    assert response.headers["x-room-id"] == "7390000000000000001" and response.headers["x-request-id"]
    result = ProtoMessageFetchResult.FromString(response.content)
    assert result.push_server == "ws://127.0.0.1:9/webcast/im/ws_proxy/ws_reuse_supplement/"
    assert result.cursor == "0" and result.route_params["browser_version"] == CHROME_UA.removeprefix("Mozilla/")
    assert tiktok.fetches == []
    metrics = app.state.metrics.exposition().decode()
    assert 'ttsign_connect_strategy_outcomes_total{outcome="served",strategy="direct"} 1.0' in metrics


@pytest.mark.parametrize("user_agent", [CHROME_UA, ""])
def test_a_connects_head_is_the_one_starlette_builds_from_the_headers(user_agent: str) -> None:
    from starlette.responses import Response

    from ttsign.api.dialects.connect import _Answer
    from ttsign.service.connect import Connected

    result = Connected(b"\x08\x01" * 300, "1%7Cabc", "7390000000000000001", "0123abcd", "chrome", "direct", user_agent)
    headers = {
        "X-Set-TT-Cookie": "ttwid=1%7Cabc",
        "X-Room-Id": "7390000000000000001",
        "X-Request-Id": "0123abcd",
        "X-Ttsign-Strategy": "direct",
        **({"X-Set-TT-User-Agent": user_agent} if user_agent else {}),
    }
    expected = Response(content=result.payload, media_type="application/x-protobuf", headers=headers)
    answer = _Answer(result)
    assert (answer.status_code, answer.body, answer.raw_headers) == (200, expected.body, expected.raw_headers)
    assert answer.background is None
