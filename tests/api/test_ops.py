"""Readiness and metrics over ASGI with a fake TikTok: probes, labels, request ids."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.upstream.fake_tiktok import FETCH_PATH, FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore

SECRET_KEY = "tts_opsCANARY_0123456789abcdefghijklmnop"
SECRET_SESSION = "SESSIONcanary987654321"


class BrokenStore(MemoryKeyStore):
    async def by_id(self, key_id: str) -> None:
        raise ConnectionError("redis://user:pw@10.0.0.1:6379 unreachable")


async def client_for(store: MemoryKeyStore | None = None) -> httpx.AsyncClient:
    settings = Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", **FETCH_PATH)
    app = create_app(settings, transport=FakeTikTok(), store=store or MemoryKeyStore())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for() as http:
        yield http


async def test_readyz_reports_each_probe(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["store"]["ok"] and body["checks"]["signer"]["ok"]
    assert "upstream" not in body["checks"]  # only when ready_requires_upstream


async def test_readyz_is_503_json_when_the_store_fails() -> None:
    async with await client_for(BrokenStore()) as http:
        response = await http.get("/readyz")
        live = await http.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready" and body["reason"] == "not_ready"
    assert body["checks"]["store"] == {"ok": False, "detail": "ConnectionError"}
    assert "pw@" not in response.text  # the backend's message (which may hold a URL) is not shown
    assert response.headers["x-log-code"] == "not_ready"
    assert live.status_code == 200  # liveness does not depend on the store


async def test_metrics_use_route_templates_and_dialects_never_secrets(client: httpx.AsyncClient) -> None:
    await client.get(
        "/webcast/rooms/7390000000000000001/connect",
        params={"apiKey": SECRET_KEY, "session_id": SECRET_SESSION, "client": "ttlive-node"},
        headers={"Cookie": f"sessionid={SECRET_SESSION}"},
    )
    await client.get("/webcast/fetch", params={"room_id": "1", "client": "ttlive-java"})
    await client.get("/webcast/fetch", params={"room_id": "1"}, headers={"User-Agent": "TikTokLive.py/7.0.1"})
    await client.get(f"/no/such/{SECRET_KEY}")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for secret in (SECRET_KEY, SECRET_SESSION, "7390000000000000001", "/no/such"):
        assert secret not in text
    requests = re.findall(r"^ttsign_http_requests_total\{(.*)\} (\S+)$", text, re.MULTILINE)
    labels = [dict(pair.split("=", 1) for pair in raw.split(",")) for raw, _ in requests]
    routes = {label["route"].strip('"') for label in labels}
    assert {"/webcast/rooms/{room_id}/connect", "/webcast/fetch", "unmatched"} <= routes
    dialects = {label["dialect"].strip('"') for label in labels}
    assert {"node", "java", "python", "other"} <= dialects
    assert 'ttsign_signing_duration_seconds_count{operation="im_fetch"}' in text
    assert "ttsign_http_request_duration_seconds_bucket" in text
    assert "ttsign_identity_pool_size 1.0" in text


async def test_refusals_and_rate_limits_are_counted() -> None:
    settings = Settings(upstream="http://127.0.0.1:9", anonymous_per_minute=1, **FETCH_PATH)
    app = create_app(settings, transport=FakeTikTok(mode="captcha"), store=MemoryKeyStore())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/webcast/fetch", params={"room_id": "1"})).status_code == 502
        assert (await http.get("/webcast/fetch", params={"room_id": "1"})).status_code == 429
        text = (await http.get("/metrics")).text
    assert 'ttsign_upstream_refusals_total{reason="captcha"} 1.0' in text
    assert 'ttsign_rate_limited_total{window="minute"} 1.0' in text


async def test_the_request_id_is_one_per_request_and_a_safe_incoming_one_is_kept(client: httpx.AsyncClient) -> None:
    first = await client.get("/webcast/fetch", params={"room_id": "bad"})
    second = await client.get("/webcast/fetch", params={"room_id": "bad"})
    assert first.headers["x-request-id"] == first.json()["request_id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    kept = await client.get("/webcast/fetch", params={"room_id": "bad"}, headers={"X-Request-Id": "lb-0123456789"})
    assert kept.headers["x-request-id"] == "lb-0123456789"
    unsafe = await client.get("/webcast/fetch", params={"room_id": "bad"}, headers={"X-Request-Id": "a b\\c"})
    assert unsafe.headers["x-request-id"] != "a b\\c"
