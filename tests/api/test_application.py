"""The application's layers: ttsign's edge middleware outside FastAPI's own, in the order it was added."""

from __future__ import annotations

import httpx
from prometheus_client import generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.security.live_server import metric_total
from ttsign.api.app import create_app
from ttsign.api.application import Application
from ttsign.config import Settings


class Tag:
    """Middleware that appends its name to a response header, as the response passes out through it."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self._app = app
        self._name = name.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagging(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                seen = next((v for k, v in headers if k == b"x-layers"), b"")
                headers = [(k, v) for k, v in headers if k != b"x-layers"]
                headers.append((b"x-layers", seen + b"," + self._name if seen else self._name))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, tagging)


async def test_added_middleware_wraps_fastapis_own_layers_last_added_outermost() -> None:
    app = Application()

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    app.add_middleware(Tag, name="inner")
    app.add_middleware(Tag, name="outer")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    # FastAPI's 500 handler answered inside both: each saw the answer go out, innermost first.
    assert response.headers["x-layers"] == "inner,outer"


async def test_an_unexpected_error_in_a_route_is_a_json_500_that_observe_counts() -> None:
    app = create_app(Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org"))

    async def boom() -> None:
        raise RuntimeError("secret detail that must not leak")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert "secret detail" not in response.text
    assert response.json()["code"] == 500
    assert response.headers["x-request-id"]
    scraped = generate_latest(app.state.metrics.registry).decode()
    assert metric_total(scraped, "ttsign_http_requests_total", route="/boom", status="500") == 1
