"""/docs works without internet: Swagger UI's files come from ttsign itself, and a real browser renders it.

The browser test runs Debian's headless Chromium (`make chromium`) through Playwright against a real
`ttsign serve` on 127.0.0.1, intercepts every request the page makes, refuses any that would leave
127.0.0.1, and waits for Swagger UI to list the operations. Its screenshot lands in tests/artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.api.test_dropin_routes import Api, make_api
from tests.e2e.harness import ROOT, Proc, serve_argv, stop_cleanly
from ttsign.api.openapi import SECURITY_SCHEMES

CHROMIUM = Path(os.environ.get("TTSIGN_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for value in make_api():
        yield value


async def test_docs_page_points_at_local_assets_only(api: Api) -> None:
    page = await api.http.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sources = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", page.text)
    assert "/docs/assets/swagger-ui-bundle.js" in sources and "/docs/assets/swagger-ui.css" in sources
    assert [url for url in sources if "//" in url] == []  # nothing from another origin
    assert "cdn" not in page.text and "validatorUrl" in page.text  # no CDN, no online validator badge
    for asset, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css"), ("favicon.png", "png")):
        served = await api.http.get(f"/docs/assets/{asset}")
        assert served.status_code == 200 and kind in served.headers["content-type"], asset
    assert len((await api.http.get("/docs/assets/swagger-ui-bundle.js")).content) > 500_000


async def test_openapi_names_the_security_schemes(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes == SECURITY_SCHEMES
    assert {(s["in"], s["name"]) for s in schemes.values()} == {
        ("header", "X-Api-Key"),
        ("query", "apiKey"),
        ("header", "x-jwt-key"),
    }
    paths = spec["paths"]
    connect = paths["/webcast/fetch"]["get"]["security"]
    assert {"JwtKey": []} in connect and {"ApiKey": []} in connect and {} in connect  # anonymous allowed too
    assert paths["/accounts/me/jwt"]["post"]["security"] == [{"ApiKey": []}, {"ApiKeyQuery": []}]  # no token mints
    assert paths["/healthz"]["get"]["security"] == []


async def test_openapi_describes_the_jwt_request_body(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    body = spec["paths"]["/accounts/me/jwt"]["post"]["requestBody"]
    assert body["required"] is False
    properties = body["content"]["application/json"]["schema"]["properties"]
    assert {"expireAfter", "allowedCreators", "maxWebSockets"} <= properties.keys()
    assert properties["expireAfter"]["maximum"] == 3600


async def test_the_documented_body_is_the_one_the_route_takes(api: Api) -> None:
    keys = api.http._transport.app.state.services.keys  # type: ignore[attr-defined]
    _, key = await keys.create("docs", None)
    spec = (await api.http.get("/openapi.json")).json()
    schema = spec["paths"]["/accounts/me/jwt"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    too_long = schema["properties"]["expireAfter"]["maximum"] + 1
    ok = await api.http.post("/accounts/me/jwt", json={"expireAfter": 30}, headers={"X-Api-Key": key})
    refused = await api.http.post("/accounts/me/jwt", json={"expireAfter": too_long}, headers={"X-Api-Key": key})
    empty = await api.http.post("/accounts/me/jwt", headers={"X-Api-Key": key})  # not required: the defaults
    assert ok.status_code == 200 and refused.status_code == 400 and empty.status_code == 200


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real `ttsign serve` on a free loopback port (TikTok is not needed to show the docs)."""
    env = {"TTSIGN_STORE_PATH": str(tmp_path / "keys.sqlite3")}
    proc = Proc(serve_argv("http://127.0.0.1:9"), name="docs", env=env).start()
    try:
        yield proc.wait_ready()["url"]
    finally:
        stop_cleanly(proc)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make chromium`")
def test_swagger_ui_renders_offline_in_a_real_browser(server: str) -> None:
    from playwright.sync_api import Route, sync_playwright

    requested: list[str] = []
    refused: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        requested.append(url)
        if url.startswith((f"{server}/", "data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "docs-offline.png"
    screenshot.unlink(missing_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page()
            page.route("**/*", only_loopback)
            page.goto(f"{server}/docs", wait_until="load", timeout=20_000)
            page.wait_for_selector(".opblock-summary-path", timeout=20_000)  # Swagger UI listed the operations
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            page.locator(".auth-wrapper .authorize").wait_for(timeout=5_000)  # the security schemes' button
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert refused == [], f"the page asked for other hosts: {refused}"
    assert screenshot.stat().st_size > 10_000
    assert f"{server}/docs/assets/swagger-ui-bundle.js" in requested and f"{server}/openapi.json" in requested
    assert any("/webcast/fetch" in path for path in paths) and any("/accounts/me/jwt" in path for path in paths)
