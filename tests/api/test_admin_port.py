"""/metrics, /docs and /openapi.json: turned off by settings, or served only on the admin listener."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Proc, serve_argv, stop_cleanly
from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.api import admin_port
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore

OPERATOR_PATHS = ("/metrics", "/docs", "/openapi.json", "/docs/assets/swagger-ui.css")
MAIN_PORT = 8080


def status_of(response: httpx.Response) -> int:
    return response.status_code


@pytest.fixture
def admin_sock() -> Iterator[socket.socket]:
    """A bound socket standing for the admin listener: only its port number matters in-process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


async def clients(settings: Settings, admin: socket.socket | None) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Clients of the main port and (when set) the admin port: the ASGI scope's "server" carries the port."""
    app = admin_port.listening(create_app(settings, transport=FakeTikTok(), store=MemoryKeyStore()), settings, admin)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    admin_number = admin.getsockname()[1] if admin is not None else 1
    async with (
        httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{MAIN_PORT}") as main,
        httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{admin_number}") as other,
    ):
        yield main, other


def settings_of(**overrides: object) -> Settings:
    return Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", **overrides)  # type: ignore[arg-type]


async def test_on_by_default_on_the_main_port() -> None:
    async for main, _ in clients(settings_of(), None):
        assert [status_of(await main.get(path)) for path in OPERATOR_PATHS] == [200, 200, 200, 200]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"metrics_enabled": False}, [404, 200, 200, 200]),
        ({"docs_enabled": False}, [200, 404, 404, 404]),
        ({"metrics_enabled": False, "docs_enabled": False}, [404, 404, 404, 404]),
    ],
)
async def test_settings_turn_them_off(overrides: dict[str, object], expected: list[int]) -> None:
    async for main, _ in clients(settings_of(**overrides), None):
        answers = [await main.get(path) for path in OPERATOR_PATHS]
        assert [status_of(answer) for answer in answers] == expected
        for answer in answers:
            if answer.status_code == 404:
                assert answer.json()["code"] == 404  # the usual JSON 404, nothing revealing
        assert (await main.get("/healthz")).status_code == 200


async def test_admin_port_serves_them_alone(admin_sock: socket.socket) -> None:
    settings = settings_of(admin_port=admin_sock.getsockname()[1])
    async for main, admin in clients(settings, admin_sock):
        assert [status_of(await main.get(path)) for path in OPERATOR_PATHS] == [404, 404, 404, 404]
        assert [status_of(await admin.get(path)) for path in OPERATOR_PATHS] == [200, 200, 200, 200]
        # The admin port carries no sign API, and the document it serves describes the main port's.
        assert (await admin.get("/webcast/fetch", params={"room_id": "7"})).status_code == 404
        assert (await main.get("/webcast/fetch", params={"room_id": "7"})).status_code == 200
        assert "/webcast/fetch" in (await admin.get("/openapi.json")).json()["paths"]
        scraped = (await admin.get("/metrics")).text
        assert 'route="/webcast/fetch"' in scraped  # the main port's requests, counted where they are scraped


async def test_admin_port_follows_the_settings_too(admin_sock: socket.socket) -> None:
    settings = settings_of(admin_port=admin_sock.getsockname()[1], docs_enabled=False)
    async for main, admin in clients(settings, admin_sock):
        assert [status_of(await admin.get(path)) for path in OPERATOR_PATHS] == [200, 404, 404, 404]
        assert [status_of(await main.get(path)) for path in OPERATOR_PATHS] == [404, 404, 404, 404]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_real_server_announces_and_serves_the_admin_port(tmp_path: Path, workers: str) -> None:
    env = {"TTSIGN_ADMIN_PORT": "0", "TTSIGN_STORE_PATH": str(tmp_path / "keys.sqlite3")}
    proc = Proc(serve_argv("http://127.0.0.1:9", "--workers", workers), name="admin", env=env).start()
    try:
        ready = proc.wait_ready()
        url, admin_url = ready["url"], ready["admin_url"]
        assert admin_url.startswith("http://127.0.0.1:") and admin_url != url
        with httpx.Client(timeout=10) as http:
            assert http.get(f"{url}/healthz").status_code == 200
            assert [http.get(f"{url}{path}").status_code for path in OPERATOR_PATHS] == [404, 404, 404, 404]
            assert [http.get(f"{admin_url}{path}").status_code for path in OPERATOR_PATHS] == [200, 200, 200, 200]
            assert 'route="/healthz"' in http.get(f"{admin_url}/metrics").text
    finally:
        stop_cleanly(proc)
