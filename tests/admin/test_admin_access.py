"""Who gets into /admin: nobody when it is not configured; with the secret only, by a signed short-lived cookie;
never from another site; every state-changing call with the session's CSRF token."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from tests.admin.conftest import BASE, SAME_ORIGIN, SECRET, Console, make_console
from tests.upstream.fake_tiktok import FETCH_PATH, FakeTikTok
from ttsign.api.admin.session import COOKIE_NAME, AdminSessions
from ttsign.api.admin_port import admin_app
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore

ADMIN_PATHS = ["/admin", "/admin/", "/admin/assets/console.js", "/admin/api/session", "/admin/api/keys"]


def assert_refused(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["code"], body["reason"]) == (status, reason)
    assert body["message"] and response.headers["x-log-code"] == reason


# --- not configured ----------------------------------------------------------------------------------------


async def test_without_an_admin_secret_nothing_is_served() -> None:
    settings = Settings(upstream="http://127.0.0.1:9", **FETCH_PATH)  # type: ignore[arg-type]
    app = create_app(settings, transport=FakeTikTok(), store=MemoryKeyStore())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        for path in ADMIN_PATHS:
            assert (await http.get(path)).status_code == 404, path
        login = await http.post("/admin/api/login", json={"secret": "x" * 40})
        assert login.status_code == 404


def test_the_admin_secret_is_32_characters_at_least_and_never_shown() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Settings(admin_secret="short")
    assert SECRET not in repr(Settings(admin_secret=SECRET))


# --- login -------------------------------------------------------------------------------------------------


async def test_login_sets_a_signed_httponly_strict_short_lived_cookie(console: Console) -> None:
    response = await console.http.post("/admin/api/login", json={"secret": SECRET}, headers=SAME_ORIGIN)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and "path=/admin" in cookie.lower() and "max-age=1800" in cookie.lower()
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    assert SECRET not in cookie and response.json()["csrf_token"] not in cookie
    assert (await console.http.get("/admin/api/session")).status_code == 200


async def test_over_tls_the_cookie_is_secure() -> None:
    async for console in make_console(base_url="https://ttsign.test"):
        headers = {"Origin": "https://ttsign.test", "Sec-Fetch-Site": "same-origin"}
        response = await console.http.post("/admin/api/login", json={"secret": SECRET}, headers=headers)
        assert response.status_code == 200
        assert "secure" in {p.strip().lower() for p in response.headers["set-cookie"].split(";")}


async def test_a_wrong_secret_is_refused_without_a_cookie(console: Console) -> None:
    response = await console.http.post("/admin/api/login", json={"secret": SECRET + "x"}, headers=SAME_ORIGIN)
    assert_refused(response, 401, "admin_secret_wrong")
    assert "set-cookie" not in response.headers
    assert_refused(await console.http.get("/admin/api/keys"), 401, "admin_login_required")


async def test_repeated_wrong_secrets_lock_the_address_out_even_for_the_right_one(console: Console) -> None:
    for _ in range(5):
        wrong = await console.http.post("/admin/api/login", json={"secret": "y" * 40}, headers=SAME_ORIGIN)
        assert wrong.status_code == 401
    locked = await console.http.post("/admin/api/login", json={"secret": SECRET}, headers=SAME_ORIGIN)
    assert_refused(locked, 429, "too_many_attempts")
    assert locked.headers["retry-after"] == "60"


async def test_a_bad_login_body_is_a_clear_400(console: Console) -> None:
    for body in ({}, {"secret": ""}, {"secret": SECRET, "extra": 1}, {"secret": "x" * 2000}):
        assert_refused(await console.http.post("/admin/api/login", json=body), 400, "bad_request")
    json_type = {"Content-Type": "application/json"}
    refused = await console.http.post("/admin/api/login", content=b"{not json", headers=json_type)
    assert refused.status_code == 400


# --- unauthenticated and forged ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/api/session"),
        ("GET", "/admin/api/keys"),
        ("POST", "/admin/api/keys"),
        ("PATCH", "/admin/api/keys/abcd1234"),
        ("POST", "/admin/api/keys/abcd1234/revoke"),
        ("GET", "/admin/api/keys/abcd1234/usage"),
        ("GET", "/admin/api/live"),
        ("POST", "/admin/api/logout"),
    ],
)
async def test_every_admin_route_needs_a_session(console: Console, method: str, path: str) -> None:
    body = {"name": "x"} if method != "GET" else None
    assert_refused(await console.http.request(method, path, json=body), 401, "admin_login_required")


async def test_a_forged_or_foreign_cookie_is_refused(console: Console) -> None:
    other = AdminSessions("another-secret-of-at-least-32-characters!", 1800).issue()
    for token in ("v1.1.abc.def", other.token, "garbage", ""):
        console.http.cookies.set(COOKIE_NAME, token)
        assert_refused(await console.http.get("/admin/api/keys"), 401, "admin_login_required")


def test_sessions_expire_and_do_not_survive_a_new_secret() -> None:
    now = [1_000_000.0]
    sessions = AdminSessions(SECRET, 60, clock=lambda: now[0])
    session = sessions.issue()
    assert sessions.check(session.token) == session
    now[0] += 59
    assert sessions.check(session.token) is not None
    now[0] += 1
    assert sessions.check(session.token) is None
    fresh = sessions.issue()
    assert AdminSessions(SECRET + "!", 60, clock=lambda: now[0]).check(fresh.token) is None
    tampered = fresh.token.replace(".1000060.", ".1000061.")
    assert tampered != fresh.token and sessions.check(tampered) is None


# --- cross-site and CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_requests_the_browser_marks_as_from_another_site_are_refused(logged_in: Console, site: str) -> None:
    headers = {**logged_in.headers(), "Sec-Fetch-Site": site}
    assert_refused(await logged_in.http.get("/admin/api/keys", headers=headers), 403, "cross_site")
    create = await logged_in.http.post("/admin/api/keys", json={"name": "evil"}, headers=headers)
    assert_refused(create, 403, "cross_site")
    login = await logged_in.http.post("/admin/api/login", json={"secret": SECRET}, headers={"Sec-Fetch-Site": site})
    assert_refused(login, 403, "cross_site")
    assert (await logged_in.http.get("/admin/api/keys", headers=logged_in.headers())).json()["keys"] == []


@pytest.mark.parametrize("origin", ["http://evil.example", "http://ttsign.test:8080", "null", "https://evil.example"])
async def test_requests_from_another_origin_are_refused(logged_in: Console, origin: str) -> None:
    headers = {"X-CSRF-Token": logged_in.csrf, "Origin": origin}
    create = await logged_in.http.post("/admin/api/keys", json={"name": "evil"}, headers=headers)
    assert_refused(create, 403, "cross_site")
    login = await logged_in.http.post("/admin/api/login", json={"secret": SECRET}, headers={"Origin": origin})
    assert_refused(login, 403, "cross_site")


async def test_state_changing_calls_need_the_sessions_csrf_token(logged_in: Console) -> None:
    missing = await logged_in.http.post("/admin/api/keys", json={"name": "k"}, headers=SAME_ORIGIN)
    assert_refused(missing, 403, "csrf_token_invalid")
    altered = ("B" if logged_in.csrf[0] != "B" else "C") + logged_in.csrf[1:]  # always another token
    wrong = {**SAME_ORIGIN, "X-CSRF-Token": altered}
    forged = await logged_in.http.post("/admin/api/keys", json={"name": "k"}, headers=wrong)
    assert_refused(forged, 403, "csrf_token_invalid")
    assert_refused(await logged_in.http.post("/admin/api/logout", headers=SAME_ORIGIN), 403, "csrf_token_invalid")
    created = await logged_in.http.post("/admin/api/keys", json={"name": "k"}, headers=logged_in.headers())
    assert created.status_code == 201
    # A client without browser headers (curl) with cookie and token is fine: CSRF needs a browser.
    curl = {"X-CSRF-Token": logged_in.csrf}
    assert (await logged_in.http.post("/admin/api/keys", json={"name": "k2"}, headers=curl)).status_code == 201


async def test_logout_clears_the_cookie(logged_in: Console) -> None:
    response = await logged_in.http.post("/admin/api/logout", headers=logged_in.headers())
    assert response.status_code == 204
    assert re.search(rf"{COOKIE_NAME}=\"?\"?;", response.headers["set-cookie"])
    assert_refused(await logged_in.http.get("/admin/api/keys"), 401, "admin_login_required")


# --- the page ----------------------------------------------------------------------------------------------


async def test_the_page_loads_only_its_own_assets_under_a_strict_policy(console: Console) -> None:
    page = await console.http.get("/admin")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    sources = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
    assert sorted(sources) == ["/admin/assets/console.css", "/admin/assets/console.js", "data:,"]
    for asset, kind in (("console.js", "javascript"), ("console.css", "css")):
        served = await console.http.get(f"/admin/assets/{asset}")
        assert served.status_code == 200 and kind in served.headers["content-type"]
        assert "http://" not in served.text and "https://" not in served.text  # no CDN, no other host
    assert "innerHTML" not in (await console.http.get("/admin/assets/console.js")).text


async def test_secrets_never_reach_the_log(console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await console.login()
    created = await console.http.post("/admin/api/keys", json={"name": "k"}, headers=console.headers())
    plaintext = created.json()["api_key"]
    await console.http.post("/admin/api/login", json={"secret": SECRET[:-1] + "?"}, headers=SAME_ORIGIN)
    cookie = console.http.cookies.get(COOKIE_NAME)
    assert cookie
    for secret in (SECRET, SECRET[:-1] + "?", cookie, plaintext, console.csrf):
        assert secret not in caplog.text


async def test_admin_requests_are_not_counted_as_usage(logged_in: Console) -> None:
    for _ in range(3):
        await logged_in.http.get("/admin/api/keys")
    report = logged_in.app.state.services.usage_report
    assert await report.totals(days=1) == {}


# --- the admin port ----------------------------------------------------------------------------------------


async def test_with_an_admin_port_the_console_is_on_the_admin_listener_only() -> None:
    settings = Settings(upstream="http://127.0.0.1:9", admin_secret=SECRET, admin_port=0, **FETCH_PATH)  # type: ignore[arg-type]
    main = create_app(settings, transport=FakeTikTok(), store=MemoryKeyStore())
    admin = admin_app(main, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=main), base_url=BASE) as public:
        assert (await public.get("/admin")).status_code == 404
        assert (await public.post("/admin/api/login", json={"secret": SECRET})).status_code == 404
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=admin), base_url=BASE) as private:
        assert (await private.get("/admin")).status_code == 200
        assert (await private.post("/admin/api/login", json={"secret": SECRET})).status_code == 200
        created = await private.post(
            "/admin/api/keys", json={"name": "via-admin-port"}, headers={"X-CSRF-Token": await _csrf(private)}
        )
        assert created.status_code == 201
    keys = await main.state.services.keys.list()
    assert [k.name for k in keys] == ["via-admin-port"]


async def _csrf(http: httpx.AsyncClient) -> str:
    token: str = (await http.get("/admin/api/session")).json()["csrf_token"]
    return token
