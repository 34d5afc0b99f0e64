"""An in-process app with the console configured, and a logged-in client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.upstream.fake_tiktok import FETCH_PATH, FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore

SECRET = "admin-secret-for-the-console-tests-0123456789"
BASE = "http://ttsign.test"
SAME_ORIGIN = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}


@dataclass
class Console:
    http: httpx.AsyncClient
    app: Any
    csrf: str = ""

    async def login(self) -> None:
        response = await self.http.post("/admin/api/login", json={"secret": SECRET}, headers=SAME_ORIGIN)
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]

    def headers(self) -> dict[str, str]:
        return {**SAME_ORIGIN, "X-CSRF-Token": self.csrf}


async def make_console(base_url: str = BASE, **overrides: object) -> AsyncIterator[Console]:
    options: dict[str, Any] = {"admin_secret": SECRET, **FETCH_PATH, **overrides}
    settings = Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", **options)
    app = create_app(settings, transport=FakeTikTok(), store=MemoryKeyStore())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield Console(http, app)


@pytest.fixture
async def console() -> AsyncIterator[Console]:
    async for value in make_console():
        yield value


@pytest.fixture
async def logged_in(console: Console) -> Console:
    await console.login()
    return console
