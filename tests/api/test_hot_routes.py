"""The hot routes (connect, sign_url) answer exactly as FastAPI's router would, only with fewer layers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import ttsign.api.app as app_module
from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.api.app import create_app
from ttsign.api.hot_routes import HotRoutes
from ttsign.config import Settings

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ROOM = "7390000000000000001"
SIGN_TARGET = f"https://webcast.tiktok.com/webcast/room/info/?aid=1988&room_id={ROOM}"

# (method, path, query, body): successes, bad input, a method the route does not take, an unknown route.
REQUESTS: list[tuple[str, str, dict[str, str], dict[str, Any] | None]] = [
    ("GET", "/webcast/fetch", {"client": "ttlive-python", "room_id": ROOM, "user_agent": CHROME_UA}, None),
    ("GET", "/webcast/fetch/", {"client": "ttlive-node", "room_id": ROOM}, None),
    ("GET", f"/webcast/rooms/{ROOM}/connect", {}, None),
    ("GET", "/webcast/fetch", {"room_id": "12ab"}, None),
    ("GET", "/webcast/rooms/not-a-room/connect", {}, None),
    ("GET", "/webcast/fetch", {"room_id": ROOM, "cursor": "x" * 5000}, None),
    ("POST", "/webcast/sign_url", {}, {"url": SIGN_TARGET, "userAgent": CHROME_UA}),
    ("POST", "/webcast/sign_url", {}, {"url": "https://example.org/steal"}),
    ("GET", "/webcast/sign_url", {"url": SIGN_TARGET}, None),
    ("POST", "/webcast/fetch", {}, None),
    ("DELETE", f"/webcast/rooms/{ROOM}/connect", {}, None),
    ("GET", "/webcast/nothing-here", {}, None),
]


class PassThrough:
    """Stands in for HotRoutes: every request takes FastAPI's own path."""

    def __init__(self, app: ASGIApp, routes: object) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def comparable(response: httpx.Response) -> tuple[int, str, object]:
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        # Signatures and tokens differ on every call: compare which fields came back, not their values.
        document = response.json()
        body: object = {k: (v if k in ("code", "reason", "message") else type(v).__name__) for k, v in document.items()}
    else:
        body = len(response.content) > 0
    return response.status_code, content_type, body


async def answers(app: ASGIApp) -> list[tuple[int, str, object]]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    results = []
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign") as http:
        for method, path, params, body in REQUESTS:
            content = json.dumps(body).encode() if body is not None else None
            headers = {"content-type": "application/json"} if body is not None else {}
            response = await http.request(method, path, params=params, content=content, headers=headers)
            assert response.headers.get("x-request-id"), (method, path)  # Observe still stamps every answer
            results.append(comparable(response))
    return results


async def test_hot_routes_answer_as_the_router_does(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org")
    served: list[str] = []
    serve = HotRoutes._serve

    async def counting(route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        served.append(route.path)
        await serve(route, scope, receive, send)

    monkeypatch.setattr(HotRoutes, "_serve", staticmethod(counting))
    hot = await answers(create_app(settings, transport=FakeTikTok()))
    # Every connect and sign_url request took the short path (the other methods and routes fell through).
    assert len(served) == 9, served
    monkeypatch.setattr(app_module, "HotRoutes", PassThrough)
    routed = await answers(create_app(settings, transport=FakeTikTok()))
    assert hot == routed
    statuses = [status for status, _, _ in hot]
    # The comparison means something only if the list covers successes, refusals and fall-throughs.
    assert {200, 400, 404, 405} <= set(statuses), statuses


async def test_hot_routes_are_labelled_by_template_in_metrics() -> None:
    app = create_app(Settings(upstream="http://127.0.0.1:9"), transport=FakeTikTok())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign") as http:
        assert (await http.get(f"/webcast/rooms/{ROOM}/connect")).status_code == 200
        metrics = (await http.get("/metrics")).text
    assert 'route="/webcast/rooms/{room_id}/connect"' in metrics
    assert ROOM not in metrics
