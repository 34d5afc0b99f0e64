"""Usage accounting through the whole app: each caller's requests, connects by room, signatures and
refusals by reason are counted; health checks are not; anonymous callers appear only as digests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.upstream.fake_tiktok import STREAMER_ROOM, FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.service.usage import subject_of
from ttsign.store.memory import MemoryKeyStore

PY7 = {"User-Agent": "TikTokLive.py/7.0.1"}
GIFT_LIST = f"https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id={STREAMER_ROOM}"


@pytest.fixture
async def app() -> AsyncIterator[Any]:
    yield create_app(
        Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org"),
        transport=FakeTikTok(),
        store=MemoryKeyStore(),
    )


def client(app: Any, ip: str = "198.51.100.20") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://ttsign", timeout=5)


def totals_of(series: list[Any]) -> dict[str, int]:
    return {s.counter: sum(s.counts) for s in series}


async def test_a_keys_requests_connects_signatures_and_refusals_are_counted(app: Any) -> None:
    services = app.state.services
    record, key = await services.keys.create("overlay")
    headers = {"X-Api-Key": key, **PY7}
    async with client(app) as http:
        assert (await http.get("/webcast/fetch", params={"room_id": STREAMER_ROOM}, headers=headers)).status_code == 200
        assert (await http.get("/webcast/fetch", params={"room_id": STREAMER_ROOM}, headers=headers)).status_code == 200
        assert (await http.post("/tiktok/sign_url", json={"url": GIFT_LIST}, headers=headers)).status_code == 200
        bad = await http.get("/webcast/fetch", params={"room_id": "abc"}, headers=headers)
        assert bad.status_code == 400
        assert (await http.get("/healthz")).status_code == 200
    await services.usage.flush()
    report = services.usage_report
    counted = totals_of(await report.series(f"key:{record.key_id}", "minute"))
    assert counted == {"requests": 4, "connects": 2, "signatures": 1, "refused:bad_request": 1}
    assert totals_of(await report.series(f"key:{record.key_id}", "hour")) == counted
    assert await report.top_rooms(f"key:{record.key_id}") == [(STREAMER_ROOM, 2)]


async def test_anonymous_usage_is_filed_under_a_digest_of_the_address(app: Any) -> None:
    services = app.state.services
    async with client(app, "203.0.113.77") as http:
        await http.get("/webcast/fetch", params={"room_id": STREAMER_ROOM}, headers=PY7)
    await services.usage.flush()
    totals = await services.usage_report.totals(days=1)
    assert list(totals) == [subject_of("anon:203.0.113.77")]
    assert "203.0.113.77" not in repr(totals) and totals[subject_of("anon:203.0.113.77")]["connects"] == 1


async def test_usage_can_be_turned_off() -> None:
    app = create_app(
        Settings(upstream="http://127.0.0.1:9", usage_enabled=False), transport=FakeTikTok(), store=MemoryKeyStore()
    )
    assert app.state.services.usage is None
    async with client(app) as http:
        assert (await http.get("/webcast/fetch", params={"room_id": STREAMER_ROOM}, headers=PY7)).status_code == 200
    assert await app.state.services.usage_report.totals(days=1) == {}
