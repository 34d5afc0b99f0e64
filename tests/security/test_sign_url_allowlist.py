"""Issue 12 item 9: sign_url's allow-list reads URLs the way browsers do (the WHATWG URL Standard).

Each verdict below was worked out by hand from the standard's parser, not by running ttsign:
- special schemes (http, https) treat '\\' as '/'; ASCII tab and newline are removed anywhere, leading and
  trailing C0 controls and spaces are trimmed;
- the host is percent-decoded, then mapped by UTS 46 (IDNA: upper case folded, U+FF0E/U+3002 full stops are
  '.', U+200B ignored); a forbidden domain code point (e.g. NUL) fails the parse; a trailing '.' is kept;
- `..`, `.%2e`, `%2e%2e` (any case) are dot segments and are resolved; an encoded '/' (%2F) is not;
- userinfo ends at the last '@' before the host; the scheme's default port is dropped; ports above 65535 fail.
The policy: https on its default port only (the `upstream` override's host keeps http and its ports), no
userinfo, no fragment, host in the allow-list after normalisation, path prefix after dot-segment removal. The URL
signed and returned is the normalised one.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from tests.api.test_dropin_routes import Api, make_api
from tests.service.test_sign import Factory
from ttsign.service.policy import PolicyError, SigningPolicy
from ttsign.service.sign import SignService, SignUrlRequest
from ttsign.signing import default_profile, verify_request
from ttsign.upstream.identity import IdentityPool

# The browser params agree with the default profile, so a signed URL passes every check of verify_request.
QUERY = f"?aid=1988&browser_name=Mozilla&browser_version={quote(default_profile().browser_version, safe='')}"
TAIL = "/webcast/x/" + QUERY
CLEAN = "https://webcast.tiktok.com" + TAIL

# (hostile URL, reason it is refused)
REFUSED = [
    pytest.param("https://evil.com\\@webcast.tiktok.com/webcast/x", "url_not_allowed", id="backslash-before-at"),
    pytest.param("https://webcast.tiktok.com%2eevil.com/webcast/x", "url_not_allowed", id="encoded-dot-in-host"),
    pytest.param("https://webcast.tiktok.com/webcast/../api/x", "url_not_allowed", id="dotdot-out-of-prefix"),
    pytest.param("https://webcast.tiktok.com/webcast/%2e%2e/x", "url_not_allowed", id="encoded-dotdot"),
    pytest.param("https://webcast.tiktok.com/webcast/%2E./api/x", "url_not_allowed", id="mixed-encoded-dotdot"),
    pytest.param("https://webcast.tiktok.com/webcast/..%2Fapi/x", "url_not_allowed", id="encoded-slash"),
    pytest.param("https://webcast.tiktok.com/webcast/..%5capi/x", "url_not_allowed", id="encoded-backslash"),
    pytest.param("https://user:pw@webcast.tiktok.com/webcast/", "url_not_allowed", id="userinfo"),
    pytest.param("https://user@webcast.tiktok.com/webcast/", "url_not_allowed", id="username-only"),
    pytest.param("https://webcast.tiktok.com%2F@evil.com/webcast/", "url_not_allowed", id="host-in-userinfo"),
    pytest.param("https://webcast.tiktok.com:444/webcast/", "url_not_allowed", id="other-port"),
    pytest.param("https://webcast.tiktok.com:80/webcast/", "url_not_allowed", id="http-port-on-https"),
    pytest.param("http://webcast.tiktok.com/webcast/", "url_not_allowed", id="plain-http"),
    pytest.param("javascript:alert(1)//webcast.tiktok.com/webcast/", "url_not_allowed", id="javascript"),
    pytest.param("ftp://webcast.tiktok.com/webcast/", "url_not_allowed", id="ftp"),
    pytest.param("wss://webcast.tiktok.com/webcast/", "url_not_allowed", id="wss"),
    pytest.param("https://webcast.tiktok.com./webcast/", "url_not_allowed", id="trailing-dot"),
    pytest.param("https://webcast.tiktok.com\u3002/webcast/", "url_not_allowed", id="ideographic-trailing-dot"),
    pytest.param("https://webcast.tiktok.com.evil.com/webcast/", "url_not_allowed", id="suffix-host"),
    pytest.param("https://webcast.tiktok.com%E3%80%82evil.com/webcast/", "url_not_allowed", id="encoded-u3002"),
    pytest.param("https://webcast.tiktok.com\uff0eevil.com/webcast/", "url_not_allowed", id="fullwidth-dot-suffix"),
    pytest.param("https://evil.com#@webcast.tiktok.com/webcast/", "url_not_allowed", id="hash-before-at"),
    pytest.param("https://evil.com?@webcast.tiktok.com/webcast/", "url_not_allowed", id="query-before-at"),
    pytest.param("https://eviltiktok.com/webcast/", "url_not_allowed", id="wildcard-without-dot"),
    pytest.param("https://0x7f.1/webcast/", "url_not_allowed", id="ipv4-hex-loopback"),
    pytest.param("https://webcast.tiktok.com/webcast/x#frag", "url_not_allowed", id="fragment"),
    pytest.param("https://webcast.tiktok.com%00/webcast/", "url_invalid", id="nul-in-host"),
    pytest.param("https://webcast.tiktok.com:65536/webcast/", "url_invalid", id="port-out-of-range"),
    pytest.param("//webcast.tiktok.com/webcast/", "url_invalid", id="scheme-relative"),
    pytest.param("/webcast/x", "url_invalid", id="path-only"),
]
# Only JSON can carry it (as a \u escape): a form or query string is UTF-8 bytes.
LONE_SURROGATE = "https://webcast.tiktok.com\ud800/webcast/"

# (URL a browser reads as the clean one, the normalised URL that must be signed)
NORMALISED = [
    pytest.param("HTTPS://WEBCAST.TIKTOK.COM" + TAIL, CLEAN, id="upper-case"),
    pytest.param("https://webcast\uff0etiktok\uff0ecom" + TAIL, CLEAN, id="fullwidth-dots"),
    pytest.param("https://webcast.tik\ttok.com" + TAIL, CLEAN, id="tab-in-host"),
    pytest.param("https://webcast.tik\ntok.com" + TAIL, CLEAN, id="newline-in-host"),
    pytest.param("https://webcast.tik\u200btok.com" + TAIL, CLEAN, id="zero-width-space-in-host"),
    pytest.param("https://%77ebcast.tiktok.com" + TAIL, CLEAN, id="encoded-letter-in-host"),
    pytest.param("https://webcast.tiktok.com:443" + TAIL, CLEAN, id="default-port"),
    pytest.param("https://webcast.tiktok.com\\webcast\\x/" + QUERY, CLEAN, id="backslashes"),
    pytest.param(" \x01https://webcast.tiktok.com" + TAIL + " ", CLEAN, id="outer-controls"),
    pytest.param("https:webcast.tiktok.com" + TAIL, CLEAN, id="no-slashes"),
    pytest.param("https://@webcast.tiktok.com" + TAIL, CLEAN, id="empty-userinfo"),
    pytest.param("https://webcast.tiktok.com/webcast/y/../x/" + QUERY, CLEAN, id="dotdot-inside-prefix"),
    pytest.param("https://webcast.tiktok.com/api/%2E%2e/webcast/x/" + QUERY, CLEAN, id="dotdot-into-prefix"),
    pytest.param(
        "https://webcast.tiktok.com/webcast/.%2e/api-live/x/" + QUERY,
        "https://webcast.tiktok.com/api-live/x/" + QUERY,
        id="dotdot-between-prefixes",
    ),
]


def sign_service() -> SignService:
    pool = IdentityPool(Factory(), clock=lambda: 1.0)
    return SignService(pool, rng=random.Random(1), clock_ms=lambda: time.time_ns() // 1_000_000)


def assert_signed_as(signed_url: str, normalised: str) -> None:
    assert signed_url.startswith(normalised + "&msToken="), signed_url
    assert verify_request(signed_url, "", default_profile().user_agent, now_ms=time.time_ns() // 1_000_000).ok


# --- through the service ---------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_service_refuses_hostile_url(url: str, reason: str) -> None:
    with pytest.raises(PolicyError) as refused:
        await sign_service().sign_url(SignUrlRequest(url))
    assert refused.value.reason == reason


async def test_service_refuses_a_lone_surrogate_as_invalid() -> None:
    with pytest.raises(PolicyError) as refused:
        await sign_service().sign_url(SignUrlRequest(LONE_SURROGATE))
    assert refused.value.reason == "url_invalid"


@pytest.mark.parametrize(("url", "normalised"), NORMALISED)
async def test_service_signs_only_the_normalised_url(url: str, normalised: str) -> None:
    result = await sign_service().sign_url(SignUrlRequest(url))
    assert_signed_as(result.signed_url, normalised)


def test_the_upstream_host_keeps_its_schemes_and_ports_and_nothing_else_does() -> None:
    """The emulator under `upstream` serves http and https on ports of its own; clients sign URLs on both."""
    policy = SigningPolicy(("127.0.0.1", "webcast.tiktok.com"), upstream_base="http://127.0.0.1:9")
    for url in ("http://127.0.0.1:9/webcast/x", "https://127.0.0.1:8443/webcast/x", "http://127.0.0.1/webcast/x"):
        assert policy.check(url) == url
    for url in (
        "http://webcast.tiktok.com/webcast/x",  # only the upstream's host is relaxed
        "https://webcast.tiktok.com:9/webcast/x",
        "http://u:p@127.0.0.1:9/webcast/x",  # the other rules still hold on it
        "http://127.0.0.1:9/api/x",
    ):
        with pytest.raises(PolicyError):
            policy.check(url)
    with pytest.raises(PolicyError):  # the upstream does not widen the host allow-list
        SigningPolicy(upstream_base="http://127.0.0.1:9").check("http://127.0.0.1:9/webcast/x")


# --- through the HTTP routes, in every form the clients use ------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for value in make_api():
        yield value


async def post_json(api: Api, path: str, url: str) -> tuple[int, dict[str, object]]:
    response = await api.http.post(path, json={"url": url})
    return response.status_code, response.json()


async def post_form(api: Api, path: str, url: str) -> tuple[int, dict[str, object]]:
    response = await api.http.post(path, data={"url": url, "method": "GET"})
    return response.status_code, response.json()


async def legacy_get(api: Api, path: str, url: str) -> tuple[int, dict[str, object]]:
    response = await api.http.get(path, params={"url": url, "client": "ttlive-node"})
    return response.status_code, response.json()


ROUTES = [
    pytest.param(post_json, "/webcast/sign_url", id="json-webcast"),
    pytest.param(post_json, "/tiktok/sign_url", id="json-tiktok"),
    pytest.param(post_form, "/webcast/sign_url/", id="form-webcast"),
    pytest.param(post_form, "/tiktok/sign_url/", id="form-tiktok"),
    pytest.param(legacy_get, "/webcast/sign_url", id="legacy-get"),
]


def signed_url_of(body: dict[str, object]) -> str:
    reply = body.get("response") or body  # the legacy GET answer is flat
    assert isinstance(reply, dict)
    signed = reply["signedUrl"]
    assert isinstance(signed, str)
    return signed


@pytest.mark.parametrize(("send", "path"), ROUTES)
@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_route_refuses_hostile_url_with_a_reason(api: Api, send, path: str, url: str, reason: str) -> None:
    status, body = await send(api, path, url)
    assert (status, body["code"], body["reason"]) == (400, 400, reason), body
    assert body["message"] and body["response"] == {}
    assert not api.tiktok.requests  # nothing was fetched for a refused URL


@pytest.mark.parametrize(("send", "path"), ROUTES)
@pytest.mark.parametrize(("url", "normalised"), NORMALISED)
async def test_route_returns_the_normalised_url_signed(api: Api, send, path: str, url: str, normalised: str) -> None:
    status, body = await send(api, path, url)
    assert status == 200, body
    assert_signed_as(signed_url_of(body), normalised)


async def test_route_refuses_a_json_escaped_lone_surrogate(api: Api) -> None:
    raw = json.dumps({"url": LONE_SURROGATE}).encode()  # ensure_ascii: the surrogate travels as \ud800
    response = await api.http.post("/webcast/sign_url", content=raw, headers={"content-type": "application/json"})
    # pydantic already refuses it as a string; either way a typed 400, never a 500 from the parser.
    assert (response.status_code, response.json()["reason"]) == (400, "bad_request")
