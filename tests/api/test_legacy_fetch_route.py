"""The legacy GET /webcast/sign_url and Node 1.x's im/fetch (service/legacy_fetch.py): with the default strategies
an im/fetch URL is answered with ttsign's own fetch URL (a one-use ticket, never the key), which serves the direct
strategy's fetch result with the ttwid as Set-Cookie; other URLs, the setting off, or `fetch` first: as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.upstream.fake_tiktok import FETCH_PATH, FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult
from ttsign.store.memory import MemoryKeyStore

ROOM = "7390000000000000001"
NODE12 = {"User-Agent": "tiktok-live-connector/1.2.3 linux"}
CHROME106 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/106.0.0.0 Safari/537.36"
)
# What 1.2.3 asks to sign: its own browser (Chrome 106, the UA its socket presents) in the query.
IM_FETCH = (
    "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&browser_name=Mozilla&browser_platform=Win32"
    f"&browser_version={quote(CHROME106.removeprefix('Mozilla/'), safe='')}&cursor=&internal_ext=&room_id={ROOM}"
)
GIFT_LIST = f"https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id={ROOM}"


async def _client(tiktok: FakeTikTok, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", **overrides)  # type: ignore[arg-type]
    app = create_app(settings, transport=tiktok, store=MemoryKeyStore())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign.test:8080") as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


@pytest.fixture
def tiktok() -> FakeTikTok:
    return FakeTikTok()


@pytest.fixture
async def http(tiktok: FakeTikTok) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(tiktok):
        yield client


async def _sign(http: httpx.AsyncClient, url: str, **params: str) -> dict[str, str]:
    query = {"url": url, "client": "ttlive-node", **params}
    response = await http.get("/webcast/sign_url", params=query, headers=NODE12)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_an_im_fetch_url_is_answered_with_ttsigns_fetch_url(http: httpx.AsyncClient) -> None:
    body = await _sign(http, IM_FETCH)
    signed = urlsplit(body["signedUrl"])
    assert (signed.scheme, signed.netloc, signed.path) == ("http", "ttsign.test:8080", "/webcast/legacy/fetch/")
    query = {name: values[0] for name, values in parse_qs(signed.query).items()}
    assert query["room_id"] == ROOM and query["user_agent"] == CHROME106
    assert query["caller"] == "anon:127.0.0.1" and query["fetch_ticket"]
    # The rest of the legacy answer stays: 1.2.3 puts msToken in its jar and the UA on its HTTP client.
    assert body["msToken"] and body["User-Agent"].startswith("Mozilla/5.0") and body["X-Bogus"]


async def test_the_api_key_never_goes_into_the_handed_out_url(http: httpx.AsyncClient) -> None:
    keys = http.app.state.services.keys  # type: ignore[attr-defined]
    record, plaintext = await keys.create("node12")
    body = await _sign(http, IM_FETCH, apiKey=plaintext)
    assert plaintext not in body["signedUrl"]
    assert parse_qs(urlsplit(body["signedUrl"]).query)["caller"] == [f"key:{record.key_id}"]


async def test_the_fetch_url_serves_the_direct_result_with_the_ttwid_as_set_cookie(
    http: httpx.AsyncClient, tiktok: FakeTikTok
) -> None:
    fetch_url = (await _sign(http, IM_FETCH))["signedUrl"]
    response = await http.get(fetch_url, headers={"User-Agent": "anything"})
    assert response.status_code == 200, response.text
    assert response.headers["x-ttsign-strategy"] == "direct"
    ttwid = response.headers["x-set-tt-cookie"].removeprefix("ttwid=")
    assert response.headers["set-cookie"].startswith(f"ttwid={ttwid};")
    result = ProtoMessageFetchResult.FromString(response.content)
    assert result.cursor and result.push_server.endswith("/webcast/im/ws_proxy/ws_reuse_supplement/")
    # The socket presents the client's own Chrome 106: the route params (which win on it) must agree.
    assert result.route_params["browser_version"] == CHROME106.removeprefix("Mozilla/")
    assert response.headers["x-set-tt-user-agent"] == CHROME106
    assert tiktok.fetches == []


async def test_a_ticket_serves_one_fetch(http: httpx.AsyncClient) -> None:
    fetch_url = (await _sign(http, IM_FETCH))["signedUrl"]
    assert (await http.get(fetch_url)).status_code == 200
    again = await http.get(fetch_url)
    assert again.status_code == 403
    assert again.json()["reason"] == "invalid_ticket" and "used already" in again.json()["message"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("room_id", "7390000000000000002"), ("caller", "anon:10.0.0.1"), ("user_agent", "Mozilla/5.0 (X11)")],
)
async def test_a_ticket_is_bound_to_what_it_names(http: httpx.AsyncClient, name: str, value: str) -> None:
    signed = urlsplit((await _sign(http, IM_FETCH))["signedUrl"])
    query = {key: values[0] for key, values in parse_qs(signed.query).items()}
    response = await http.get(signed.path, params={**query, name: value})
    assert response.status_code == 403
    assert response.json()["reason"] == "invalid_ticket"


@pytest.mark.parametrize(
    "params",
    [{}, {"room_id": ROOM}, {"room_id": ROOM, "fetch_ticket": "1.abc"}, {"room_id": ROOM, "fetch_ticket": "x" * 40}],
)
async def test_a_missing_or_forged_ticket_is_a_typed_403(http: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await http.get("/webcast/legacy/fetch/", params={**params, "caller": "anon:127.0.0.1"})
    if not params:
        assert response.status_code == 400 and response.json()["reason"] == "bad_request"
        return
    assert response.status_code == 403 and response.json()["reason"] == "invalid_ticket"


async def test_other_urls_are_signed_as_before(http: httpx.AsyncClient) -> None:
    body = await _sign(http, GIFT_LIST)
    assert body["signedUrl"].startswith("https://webcast.tiktok.com/webcast/gift/list/?")
    assert f"msToken={body['msToken']}" in body["signedUrl"]


async def test_the_post_dialects_sign_im_fetch_as_before(http: httpx.AsyncClient) -> None:
    response = await http.post("/webcast/sign_url", json={"url": IM_FETCH})
    assert response.status_code == 200, response.text
    assert response.json()["response"]["signedUrl"].startswith("https://webcast.tiktok.com/webcast/im/fetch/?")


@pytest.mark.parametrize(
    "overrides",
    [{"legacy_fetch_through_ttsign": False}, FETCH_PATH, {"connect_strategies": ("fetch", "direct")}],
    ids=["setting-off", "fetch-only", "fetch-first"],
)
async def test_off_or_fetch_first_signs_im_fetch_as_before(tiktok: FakeTikTok, overrides: dict[str, object]) -> None:
    async for http in _client(tiktok, **overrides):
        body = await _sign(http, IM_FETCH)
        assert body["signedUrl"].startswith("https://webcast.tiktok.com/webcast/im/fetch/?")
        assert f"msToken={body['msToken']}" in body["signedUrl"]


async def test_a_handed_out_fetch_url_counts_as_a_connect_to_its_room(tiktok: FakeTikTok) -> None:
    """The distinct-room cap applies as on /webcast/fetch: a second room within the hour is refused (429), while a
    URL that is no im/fetch is still signed (signing counts no room)."""
    async for http in _client(tiktok, anonymous_rooms_per_hour=1):
        await _sign(http, IM_FETCH)
        other_room = IM_FETCH.replace(ROOM, "7390000000000000002")
        query = {"url": other_room, "client": "ttlive-node"}
        refused = await http.get("/webcast/sign_url", params=query, headers=NODE12)
        assert refused.status_code == 429, refused.text
        assert refused.json()["reason"] == "too_many_rooms" and refused.json()["response"] == {}
        assert (await _sign(http, GIFT_LIST.replace(ROOM, "7390000000000000003")))["signedUrl"].startswith("https://")
