"""Euler's newer routes (EulerApiSdk 0.5.0, tiktok-live-api-sdk 0.6.0) over ASGI with a fake TikTok:
`POST /tiktok/signing/encrypt/sign_url`, `GET /accounts/me/rate_limits` and `GET /webcast/anchors/{unique_id}/connect`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from tests.api.test_dropin_routes import CHROME, FIREFOX, GIFT_LIST, NODE, PY7, Api, make_api, new_key
from tests.upstream.fake_tiktok import STREAMER, STREAMER_ROOM
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult
from ttsign.signing import verify_request

ENCRYPT = "/tiktok/signing/encrypt/sign_url"
PY_SDK = {"User-Agent": "python-httpx/0.28.1"}  # EulerApiSdk 0.5.0 sends httpx's own UA and client=ttlive-other
CALLER_TTWID = "1%7CcallerTtwid0123456789%7C1764000000%7Cabcdef"
BARE_GIFT_LIST = "https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id=7"


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for value in make_api():
        yield value


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def names_in(url: str) -> list[str]:
    return [name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)]


# --- POST /tiktok/signing/encrypt/sign_url ------------------------------------------------------------------


@pytest.mark.parametrize("path", [ENCRYPT, ENCRYPT + "/"])
async def test_encrypt_sign_url_answers_as_sign_url(api: Api, path: str) -> None:
    body = {"url": GIFT_LIST, "userAgent": FIREFOX.user_agent, "method": "GET", "type": "fetch"}
    response = await api.http.post(path, json=body, params={"client": "ttlive-other"}, headers=PY_SDK)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["code"] == 200 and set(data["response"]) == {
        "signedUrl",
        "userAgent",
        "browserName",
        "browserVersion",
        "tokens",
        "requestHeaders",
        "cookies",
    }
    reply = data["response"]
    assert reply["userAgent"] == FIREFOX.user_agent
    assert set(reply["tokens"]) >= {"msToken", "X-Bogus", "X-Gnarly"}
    assert reply["cookies"][0]["name"] == "ttwid"
    assert verify_request(reply["signedUrl"], "", FIREFOX.user_agent, now_ms=now_ms()).ok


async def test_caller_ttwid_is_the_cookie_and_no_pooled_identity_is_used(api: Api) -> None:
    body = {"url": GIFT_LIST, "userAgent": FIREFOX.user_agent, "ttwid": CALLER_TTWID}
    response = await api.http.post(ENCRYPT, json=body)
    assert response.status_code == 200, response.text
    reply = response.json()["response"]
    assert reply["cookies"] == [{"name": "ttwid", "value": CALLER_TTWID, "domain": ".tiktok.com", "path": "/"}]
    assert api.tiktok.bootstraps == []  # the caller's cookie jar is the identity: TikTok was not asked for one
    assert re.fullmatch(r"[A-Za-z0-9_-]{100,200}", reply["tokens"]["msToken"])  # minted as the web SDK does
    assert verify_request(reply["signedUrl"], "", FIREFOX.user_agent, now_ms=now_ms()).ok
    # Without a ttwid the same route answers the pooled identity's cookie (so the branch above is the ttwid's).
    pooled = (await api.http.post(ENCRYPT, json={"url": GIFT_LIST})).json()["response"]
    assert pooled["cookies"][0]["value"] not in ("", CALLER_TTWID) and api.tiktok.bootstraps


async def test_caller_ttwid_is_never_logged_nor_echoed(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await api.http.post(ENCRYPT, json={"url": GIFT_LIST, "ttwid": CALLER_TTWID})
    bad = await api.http.post(ENCRYPT, json={"url": GIFT_LIST, "ttwid": CALLER_TTWID + "; sessionid=x"})
    assert bad.status_code == 400 and bad.json()["reason"] == "bad_request" and "ttwid" in bad.json()["message"]
    assert CALLER_TTWID not in bad.text
    assert "/tiktok/signing/encrypt/sign_url" in caplog.text  # the access lines were captured, without it
    assert CALLER_TTWID not in caplog.text


async def test_include_browser_params_appends_what_the_url_lacks(api: Api) -> None:
    body = {"url": BARE_GIFT_LIST, "userAgent": FIREFOX.user_agent, "includeBrowserParams": True}
    signed = (await api.http.post(ENCRYPT, json=body)).json()["response"]["signedUrl"]
    params = dict(parse_qsl(urlsplit(signed).query))
    assert {k: params[k] for k in FIREFOX.browser_query()} == FIREFOX.browser_query()
    assert names_in(signed)[:2] == ["aid", "room_id"]  # appended after the caller's own, signatures last
    assert names_in(signed)[-3:] == ["msToken", "X-Bogus", "X-Gnarly"]
    assert verify_request(signed, "", FIREFOX.user_agent, now_ms=now_ms()).ok
    # Present params are kept once (browser_name/version aligned as sign_url always does), never duplicated.
    again = (await api.http.post(ENCRYPT, json={**body, "url": GIFT_LIST})).json()["response"]["signedUrl"]
    assert names_in(again).count("browser_name") == 1 and "screen_width" in names_in(again)


async def test_without_include_browser_params_nothing_is_appended(api: Api) -> None:
    body = {"url": BARE_GIFT_LIST, "includeBrowserParams": False, "includeVerifyFp": True}
    response = await api.http.post(ENCRYPT, json=body)
    assert response.status_code == 200, response.text
    assert names_in(response.json()["response"]["signedUrl"]) == ["aid", "room_id", "msToken", "X-Bogus", "X-Gnarly"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "https://example.com/webcast/gift/list/"}, "url_not_allowed"),
        ({"url": "https://www.tiktok.com/passport/web/login/"}, "url_not_allowed"),
        ({"url": GIFT_LIST, "includeBrowserParams": "sometimes"}, "bad_request"),
        ({"url": GIFT_LIST, "type": "beacon"}, "bad_request"),
        ({"url": GIFT_LIST, "ttwid": "a b"}, "bad_request"),
        ({"nope": 1}, "bad_request"),
    ],
)
async def test_encrypt_refusals_are_sign_urls(api: Api, body: object, reason: str) -> None:
    response = await api.http.post(ENCRYPT, json=body)
    assert response.status_code == 400
    data = response.json()
    assert (data["code"], data["reason"], data["response"]) == (400, reason, {})


async def test_session_ids_follow_the_session_policy() -> None:
    async for api in make_api(session_id_policy="refuse"):
        response = await api.http.post(ENCRYPT, json={"url": GIFT_LIST, "sessionId": "secret-sid"})
        assert response.status_code == 400 and response.json()["reason"] == "session_forwarding_disabled"
        assert "secret-sid" not in response.text
    async for api in make_api():  # the default policy ignores it: signed as if it were not there
        response = await api.http.post(ENCRYPT, json={"url": GIFT_LIST, "sessionId": "secret-sid"})
        assert response.status_code == 200 and response.json()["code"] == 200
        assert not [r for r in api.tiktok.requests if "secret-sid" in str(r.headers) or "secret-sid" in r.url]


async def test_token_scope_is_judged_on_the_signed_url(api: Api) -> None:
    _, key = await new_key(api)
    minted = await api.http.post("/accounts/me/jwt", json={"allowedCreators": ["7"]}, headers={"X-Api-Key": key})
    token = minted.json()["token"]
    other_room = GIFT_LIST.replace("room_id=7", "room_id=8")
    py = await api.http.post(ENCRYPT, json={"url": other_room}, headers={"x-jwt-key": token, **PY7})
    assert (py.status_code, py.json()["code"], py.json()["reason"]) == (200, 403, "creator_not_allowed")
    node = await api.http.post(ENCRYPT, json={"url": other_room}, headers={"x-jwt-key": token, **NODE})
    assert node.status_code == 403
    ok = await api.http.post(ENCRYPT, json={"url": GIFT_LIST}, headers={"x-jwt-key": token})
    assert ok.status_code == 200 and ok.json()["code"] == 200


async def test_bad_key_is_refused_with_a_response_object(api: Api) -> None:
    response = await api.http.post(ENCRYPT, json={"url": GIFT_LIST}, headers={"X-Api-Key": "not-a-key"})
    assert response.status_code == 401 and response.json()["response"] == {}


# --- GET /accounts/me/rate_limits -----------------------------------------------------------------------------


def parse_iso(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


async def test_account_rate_limits_in_the_newer_shape() -> None:
    async for api in make_api(key_per_hour=None):  # keys then have no hour window at all
        await assert_newer_shape(api)


async def assert_newer_shape(api: Api) -> None:
    _, key = await new_key(api, per_minute=5, per_day=50)
    headers = {"X-Api-Key": key}
    fresh = (await api.http.get("/accounts/me/rate_limits", headers=headers)).json()
    assert fresh == {
        "code": 200,
        "message": "ok",
        "minute": {"max": 5, "remaining": 5, "reset_at": None},  # nothing counted yet: nothing to reset
        "day": {"max": 50, "remaining": 50, "reset_at": None},
    }
    before = time.time()
    await api.http.get("/webcast/fetch", params={"room_id": "1"}, headers=headers)
    body = (await api.http.get("/accounts/me/rate_limits", headers=headers)).json()
    assert set(body) == {"code", "message", "minute", "day"}  # no hour window: left out, never null
    assert (body["minute"]["max"], body["minute"]["remaining"], body["day"]["remaining"]) == (5, 4, 49)
    minute_reset = parse_iso(body["minute"]["reset_at"]).timestamp()
    assert before + 59 <= minute_reset <= time.time() + 61
    assert parse_iso(body["day"]["reset_at"]).timestamp() > minute_reset


async def test_webcast_rate_limits_keep_the_older_shape(api: Api) -> None:
    _, key = await new_key(api, per_minute=5)
    await api.http.get("/webcast/fetch", params={"room_id": "1"}, headers={"X-Api-Key": key})
    body = (await api.http.get("/webcast/rate_limits", headers={"X-Api-Key": key})).json()
    assert isinstance(body["minute"]["reset_at"], int) and body["anonymous"] is False and "load_shedding" in body


@pytest.mark.parametrize("value", ["WEBCAST", "webcast"])
async def test_webcast_type_is_the_default(api: Api, value: str) -> None:
    response = await api.http.get("/accounts/me/rate_limits", params={"type": value})
    assert response.status_code == 200 and response.json()["code"] == 200


@pytest.mark.parametrize("value", ["ALERTS", "RATE_LIMITS", "CATALOG", "RANKINGS", "x" * 500])
async def test_other_limit_types_are_a_clear_400(api: Api, value: str) -> None:
    response = await api.http.get("/accounts/me/rate_limits", params={"type": value})
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["reason"]) == (400, "unsupported_limit_type")
    assert "WEBCAST" in body["message"] and len(body["message"]) < 200


async def test_account_rate_limits_refuse_a_bad_key(api: Api) -> None:
    response = await api.http.get("/accounts/me/rate_limits", headers={"X-Api-Key": "not-a-key"})
    assert response.status_code == 401 and response.json()["code"] == 401


# --- GET /webcast/anchors/{unique_id}/connect ------------------------------------------------------------------


def sdk_query() -> dict[str, str]:
    # What fetchWebcastURLByUniqueId sends (both SDKs): client, user_agent, client_enter, platform; cursor if any.
    return {"client": "ttlive-other", "user_agent": CHROME.user_agent, "client_enter": "true", "platform": "web"}


@pytest.mark.parametrize("unique_id", [STREAMER, "@" + STREAMER, quote("@" + STREAMER, safe="")])
async def test_anchor_connect_answers_as_fetch(api: Api, unique_id: str) -> None:
    response = await api.http.get(f"/webcast/anchors/{unique_id}/connect", params=sdk_query())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    result = ProtoMessageFetchResult()
    result.ParseFromString(response.content)
    assert result.push_server and result.cursor
    assert response.headers["x-set-tt-cookie"].startswith("ttwid=")
    assert response.headers["x-room-id"] == STREAMER_ROOM


async def test_anchor_connect_takes_the_room_from_the_path_only(api: Api) -> None:
    response = await api.http.get(f"/webcast/anchors/{STREAMER}/connect", params={"room_id": "5"})
    assert response.status_code == 200 and response.headers["x-room-id"] == STREAMER_ROOM


async def test_anchor_connect_unknown_streamer_is_room_not_found(api: Api) -> None:
    response = await api.http.get("/webcast/anchors/nobody_here/connect")
    assert response.status_code == 404 and response.json()["reason"] == "room_not_found"


async def test_anchor_connect_refuses_mobile(api: Api) -> None:
    response = await api.http.get(f"/webcast/anchors/{STREAMER}/connect", params={**sdk_query(), "platform": "mobile"})
    assert response.status_code == 400 and response.json()["reason"] == "unsupported_platform"


@pytest.mark.parametrize(
    "headers", [{"x-cookie-header": "sessionid=secret-sid; tt-target-idc=useast1a"}, {"x-oauth-token": "secret-sid"}]
)
async def test_anchor_connect_session_headers_follow_the_session_policy(headers: dict[str, str]) -> None:
    async for api in make_api(session_id_policy="refuse"):
        refused = await api.http.get(f"/webcast/anchors/{STREAMER}/connect", params=sdk_query(), headers=headers)
        assert refused.status_code == 400 and refused.json()["reason"] == "session_forwarding_disabled"
        assert "secret-sid" not in refused.text
    async for api in make_api():  # the default policy ignores a session: never forwarded
        served = await api.http.get(f"/webcast/anchors/{STREAMER}/connect", params=sdk_query(), headers=headers)
        assert served.status_code == 200, served.text
        assert not [r for r in api.tiktok.requests if "secret-sid" in str(r.headers) or "secret-sid" in r.url]


async def test_anchor_connect_scope_is_the_streamer(api: Api) -> None:
    _, key = await new_key(api)
    minted = await api.http.post(
        "/accounts/me/jwt", json={"allowedCreators": ["someone_else"]}, headers={"X-Api-Key": key}
    )
    token = minted.json()["token"]
    response = await api.http.get(f"/webcast/anchors/{STREAMER}/connect", headers={"x-jwt-key": token})
    assert response.status_code == 403 and response.json()["reason"] == "creator_not_allowed"


# --- OpenAPI -----------------------------------------------------------------------------------------------------


async def test_openapi_describes_the_newer_routes(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    paths = spec["paths"]
    body = paths[ENCRYPT]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"ttwid", "include_browser_params", "include_verify_fp", "type", "url"} <= set(body["properties"])
    window = spec["components"]["schemas"]["AccountWindowReply"]["properties"]["reset_at"]
    assert {"type": "null"} in window["anyOf"] and {"type": "string"} in window["anyOf"]
    limits = paths["/accounts/me/rate_limits"]["get"]
    assert [p["name"] for p in limits["parameters"]] == ["type"]
    anchor = paths["/webcast/anchors/{unique_id}/connect"]["get"]
    named = {(p["name"], p["in"]) for p in anchor["parameters"]}
    assert {("unique_id", "path"), ("cursor", "query"), ("platform", "query"), ("x-cookie-header", "header")} <= named
    assert ("room_id", "query") not in named
    assert "application/x-protobuf" in anchor["responses"]["200"]["content"]
