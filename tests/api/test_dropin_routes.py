"""The drop-in surface beyond connect: keys and limits, sign_url in every form, room ids, chat, accounts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from tests.upstream.fake_tiktok import FETCH_PATH, STREAMER, STREAMER_ROOM, FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.signing import default_profile, verify_request
from ttsign.store.base import Limits
from ttsign.store.memory import MemoryKeyStore
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.transport import UpstreamResponse

CHROME = default_profile()
FIREFOX = default_profile("firefox133-windows")
GIFT_LIST = (
    "https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id=7&browser_name=Mozilla"
    f"&browser_version={quote(CHROME.browser_version, safe='')}"
)
PY7 = {"User-Agent": "TikTokLive.py/7.0.1"}
PY64 = {"User-Agent": "TikTokLive.py/6.4.0"}
NODE = {"User-Agent": "tiktok-live-connector/2.5.0 linux"}


@dataclass
class Api:
    http: httpx.AsyncClient
    store: MemoryKeyStore
    tiktok: FakeTikTok
    settings: Settings


async def make_api(**overrides: object) -> AsyncIterator[Api]:
    settings = Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", **{**FETCH_PATH, **overrides})  # type: ignore[arg-type]
    store, tiktok = MemoryKeyStore(), FakeTikTok()
    app = create_app(settings, transport=tiktok, store=store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign") as http:
        yield Api(http, store, tiktok, settings)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for value in make_api():
        yield value


async def new_key(api: Api, **limits: int) -> tuple[str, str]:
    keys = api.http._transport.app.state.services.keys  # type: ignore[attr-defined]
    record, plaintext = await keys.create("test", Limits(**limits) if limits else None)
    return record.key_id, plaintext


# --- sign_url --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/webcast/sign_url", "/webcast/sign_url/", "/tiktok/sign_url", "/tiktok/sign_url/"])
async def test_json_sign_url_returns_everything_the_clients_read(api: Api, path: str) -> None:
    response = await api.http.post(path, json={"url": GIFT_LIST, "userAgent": FIREFOX.user_agent, "method": "GET"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 200
    reply = body["response"]
    assert "msToken" in reply["signedUrl"] and "X-Bogus=" in reply["signedUrl"] and "X-Gnarly=" in reply["signedUrl"]
    assert reply["userAgent"] == FIREFOX.user_agent
    assert (reply["browserName"], reply["browserVersion"]) == ("Mozilla", "5.0 (Windows)")
    assert set(reply["tokens"]) >= {"msToken", "X-Bogus", "X-Gnarly"}
    assert reply["requestHeaders"]["User-Agent"] == FIREFOX.user_agent
    assert reply["cookies"][0]["name"] == "ttwid"
    assert verify_request(reply["signedUrl"], "", FIREFOX.user_agent, now_ms=time.time_ns() // 10**6).ok


async def test_unprofileable_user_agent_is_answered_with_the_servers_browser(api: Api) -> None:
    response = await api.http.post("/webcast/sign_url", json={"url": GIFT_LIST, "userAgent": "curl/8"})
    assert response.status_code == 200
    assert response.json()["response"]["userAgent"] == CHROME.user_agent  # both client families adopt it


async def test_form_sign_url_of_tiktoklive_6(api: Api) -> None:
    form = {"url": GIFT_LIST, "method": "POST", "userAgent": CHROME.user_agent, "type": "fetch", "payload": ""}
    response = await api.http.post("/webcast/sign_url/", data=form, headers={"X-Api-Key": ""})
    assert response.status_code == 200, response.text
    assert "msToken" in response.json()["response"]["signedUrl"]


async def test_payload_is_bound_into_the_signatures(api: Api) -> None:
    url = "https://webcast.tiktok.com/webcast/room/chat/?aid=1988&room_id=7"
    response = await api.http.post("/webcast/sign_url", json={"url": url, "method": "POST", "payload": "content=hi"})
    signed = response.json()["response"]["signedUrl"]
    assert verify_request(signed, "content=hi", CHROME.user_agent, now_ms=time.time_ns() // 10**6).failures[0].name in {
        "browser.browser_name",
        "browser.browser_version",
    }  # signatures hold; only the URL's missing browser params are reported
    assert not verify_request(signed, "content=ho", CHROME.user_agent, now_ms=time.time_ns() // 10**6).ok


async def test_legacy_get_sign_url_has_euler_guide_keys(api: Api) -> None:
    url = "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=7&client=ttlive-node"
    response = await api.http.get("/webcast/sign_url", params={"url": url, "client": "ttlive-node", "uuc": "1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "code",
        "message",
        "signedUrl",
        "browserVersion",
        "browserName",
        "User-Agent",
        "_signature",
        "X-Bogus",
        "msToken",
    }
    assert body["_signature"].startswith("_02B4Z6wo00f01") and len(body["X-Bogus"]) == 28
    assert f"msToken={body['msToken']}" in body["signedUrl"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "https://example.com/webcast/im/fetch/"}, "url_not_allowed"),
        ({"url": "https://www.tiktok.com/passport/web/login/"}, "url_not_allowed"),
        ({"nope": 1}, "bad_request"),
        ({"url": GIFT_LIST, "method": "BREW"}, "bad_request"),
        ({"url": ["not", "a", "string"]}, "bad_request"),
    ],
)
async def test_sign_url_refusals_are_clear_400s_with_a_response_object(api: Api, body: object, reason: str) -> None:
    response = await api.http.post("/webcast/sign_url", json=body)
    assert response.status_code == 400
    data = response.json()
    assert (data["code"], data["reason"], data["response"]) == (400, reason, {})
    assert response.headers["x-log-code"] == reason


async def test_malformed_json_is_a_400(api: Api) -> None:
    response = await api.http.post(
        "/webcast/sign_url", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "JSON" in response.json()["message"]


# --- keys and limits -------------------------------------------------------------------------------


async def test_rate_limited_key_gets_headers_every_client_parses(api: Api) -> None:
    _, key = await new_key(api, per_minute=2)
    for _ in range(2):
        ok = await api.http.get("/webcast/fetch", params={"room_id": "1"}, headers={"X-Api-Key": key, **PY7})
        assert ok.status_code == 200, ok.text
    limited = await api.http.get("/webcast/fetch", params={"room_id": "1"}, headers={"X-Api-Key": key, **PY7})
    assert limited.status_code == 429
    body = limited.json()
    assert body["code"] == 429 and body["limit_label"] == "minute" and body["message"]
    retry = int(limited.headers["retry-after"])
    assert 1 <= retry <= 60 and int(limited.headers["ratelimit-remaining"]) == retry
    assert abs(int(limited.headers["ratelimit-reset"]) - (time.time() + retry)) <= 2
    assert int(limited.headers["x-ratelimit-reset"]) == int(limited.headers["ratelimit-reset"])
    legacy = await api.http.get("/webcast/fetch/", params={"room_id": "1", "apiKey": key}, headers=PY64)
    assert legacy.status_code == 429 and int(legacy.headers["ratelimit-reset"]) <= 60  # seconds for <= 6.4


async def test_api_key_in_query_and_revoked_key(api: Api) -> None:
    key_id, key = await new_key(api)
    assert (await api.http.get("/webcast/fetch/", params={"room_id": "1", "apiKey": key})).status_code == 200
    keys = api.http._transport.app.state.services.keys  # type: ignore[attr-defined]
    await keys.revoke(key_id)
    keys._cache.clear()
    refused = await api.http.get("/webcast/fetch", params={"room_id": "1"}, headers={"X-Api-Key": key})
    assert refused.status_code == 401 and refused.json()["reason"] == "invalid_api_key"
    assert key not in refused.text


async def test_limits_apply_before_any_upstream_work() -> None:
    async for api in make_api(anonymous_per_minute=1):
        assert (await api.http.get("/webcast/fetch", params={"room_id": "1"})).status_code == 200
        fetches = len(api.tiktok.requests)
        assert (await api.http.get("/webcast/fetch", params={"room_id": "1"})).status_code == 429
        assert (await api.http.post("/webcast/sign_url", json={"url": GIFT_LIST})).status_code == 429
        assert len(api.tiktok.requests) == fetches


async def test_anonymous_can_be_refused() -> None:
    async for api in make_api(allow_anonymous=False):
        response = await api.http.get("/webcast/fetch", params={"room_id": "1"})
        assert response.status_code == 401 and response.json()["reason"] == "api_key_required"


async def test_distinct_rooms_per_hour_are_capped_for_anonymous_callers() -> None:
    async for api in make_api(anonymous_rooms_per_hour=2):
        for room in ("1", "2", "1"):
            assert (await api.http.get("/webcast/fetch", params={"room_id": room})).status_code == 200
        capped = await api.http.get("/webcast/fetch", params={"room_id": "3"})
        assert capped.status_code == 429 and capped.json()["limit_label"] == "rooms"


async def test_rate_limits_route_reports_windows_without_counting(api: Api) -> None:
    _, key = await new_key(api, per_minute=5, per_day=50)
    await api.http.get("/webcast/fetch", params={"room_id": "1"}, headers={"X-Api-Key": key})
    for path in ("/webcast/rate_limits",):  # /accounts/me/rate_limits: the newer SDKs' shape (test_euler_routes.py)
        body = (await api.http.get(path, headers={"X-Api-Key": key})).json()
        assert body["minute"]["max"] == 5 and body["minute"]["remaining"] == 4
        assert body["day"]["remaining"] == 49 and body["anonymous"] is False
        # The window the key leaves out follows the server default (issue 12 item 11), counted the same way.
        assert (body["hour"]["max"], body["hour"]["remaining"]) == (api.settings.key_per_hour, 1999)


async def test_jwt_for_browser_apps(api: Api) -> None:
    _, key = await new_key(api)
    minted = await api.http.post(
        "/accounts/me/jwt",
        json={"expireAfter": 60, "allowedCreators": ["7"], "maxWebSockets": 1},
        headers={"X-Api-Key": key},
    )
    assert minted.status_code == 200, minted.text
    token = minted.json()["token"]
    other = await api.http.get("/webcast/fetch", params={"room_id": "8"}, headers={"x-jwt-key": token})
    assert other.status_code == 403
    ok = await api.http.get("/webcast/fetch", params={"room_id": "7"}, headers={"x-jwt-key": token})
    assert ok.status_code == 200, ok.text
    spent = await api.http.get("/webcast/fetch", params={"room_id": "7"}, headers={"x-jwt-key": token})
    assert spent.status_code == 429
    assert (await api.http.post("/accounts/me/jwt", json={})).status_code == 401
    forged = await api.http.get("/webcast/fetch", params={"room_id": "7"}, headers={"x-jwt-key": token[:-3] + "abc"})
    assert forged.status_code == 401


# --- room ids, chat, documentation -----------------------------------------------------------------


async def test_room_id_routes(api: Api) -> None:
    for response in (
        await api.http.get("/webcast/room_id", params={"uniqueId": STREAMER}),
        await api.http.get(f"/webcast/anchors/{STREAMER}/room_id"),
    ):
        body = response.json()
        assert response.status_code == 200 and body["ok"] is True and body["room_id"] == STREAMER_ROOM
        assert body["is_live"] is True and body["routes_attempted"] == ["api-live"]
    lookups = [r for r in api.tiktok.requests if "/api-live/" in r.url]
    assert len(lookups) == 1  # the second answer came from the short cache
    missing = await api.http.get("/webcast/anchors/nobody_here/room_id")
    assert missing.status_code == 404 and missing.json()["ok"] is False
    assert missing.json()["reason"] == "room_not_found" == missing.headers["x-log-code"]
    bad = await api.http.get("/webcast/room_id", params={"uniqueId": "bad name!"})
    assert bad.status_code == 400 and bad.json()["ok"] is False and bad.json()["reason"] == "bad_request"


async def test_room_id_refusal_carries_its_reason_and_is_not_kept(api: Api) -> None:
    """A captcha page refuses our request, not the streamer: the next caller asks TikTok again and recovers."""
    answer_normally = api.tiktok._api_live
    pages = iter([UpstreamResponse(200, (("content-type", "text/html"),), b"<html>verify captcha</html>")])
    api.tiktok._api_live = lambda request: next(pages, None) or answer_normally(request)  # type: ignore[method-assign]
    refused = await api.http.get("/webcast/room_id", params={"uniqueId": STREAMER})
    body = refused.json()
    assert refused.status_code == 502 and refused.headers["x-log-code"] == "captcha"
    assert (body["ok"], body["code"], body["reason"], body["routes_attempted"]) == (False, 502, "captcha", ["api-live"])
    assert body["message"] and "room_id" not in body and "is_live" not in body
    recovered = await api.http.get(f"/webcast/anchors/{STREAMER}/room_id")
    assert recovered.status_code == 200 and recovered.json()["room_id"] == STREAMER_ROOM
    assert "reason" not in recovered.json()


async def test_room_id_paused_by_a_breaker_says_when_to_retry(api: Api) -> None:
    async def paused(unique_id: str) -> Refusal:
        return Refusal(RefusalCode.CIRCUIT_OPEN, retry_after_s=2.2)

    api.http._transport.app.state.services.rooms.lookup = paused  # type: ignore[attr-defined]
    response = await api.http.get("/webcast/room_id", params={"uniqueId": STREAMER})
    assert (response.status_code, response.json()["reason"], response.headers["retry-after"]) == (
        503,
        "circuit_open",
        "3",
    )


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/webcast/chat", PY7, 200),
        ("/webcast/chat/", {"User-Agent": "TikTokLive.py/6.6.5"}, 200),
        ("/webcast/chat", NODE, 403),
        ("/webcast/rooms/7/chat", NODE, 403),
    ],
)
async def test_chat_is_off_by_default_in_each_clients_form(
    api: Api, path: str, headers: dict[str, str], status: int
) -> None:
    response = await api.http.post(path, json={"content": "hi", "targetRoomId": "7"}, headers=headers)
    assert response.status_code == status
    assert response.json()["code"] == 403 and "not enabled" in response.json()["message"]


async def test_openapi_and_docs_describe_the_routes(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    for path in (
        "/webcast/fetch",
        "/webcast/rooms/{room_id}/connect",
        "/webcast/sign_url",
        "/tiktok/sign_url",
        "/webcast/room_id",
        "/webcast/anchors/{unique_id}/room_id",
        "/webcast/rate_limits",
        "/accounts/me/rate_limits",
        "/webcast/chat",
    ):
        assert path in spec["paths"], path
    assert "application/x-www-form-urlencoded" in spec["paths"]["/webcast/sign_url"]["post"]["requestBody"]["content"]
    assert (await api.http.get("/docs")).status_code == 200


async def test_unknown_route_is_json_404(api: Api) -> None:
    response = await api.http.get("/webcast/nope")
    assert response.status_code == 404 and response.json()["code"] == 404
