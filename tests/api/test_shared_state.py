"""The API on Redis (TTSIGN_REDIS_URL): state shared by two app instances, and store outages answered as 503."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.redis_db import REDIS_URL, delete_prefix, free_port, new_prefix, require_redis
from tests.upstream.fake_tiktok import STREAMER_ROOM, FakeTikTok
from ttsign.api.app import create_app
from ttsign.api.state import Services
from ttsign.config import Settings
from ttsign.store.base import Limits
from ttsign.store.redis import RedisKeyStore

SIGN_BODY = {"url": f"https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id={STREAMER_ROOM}"}
NODE = {"User-Agent": "tiktok-live-connector/2.5.0 linux"}


class Replica:
    def __init__(self, settings: Settings, tiktok: FakeTikTok) -> None:
        app = create_app(settings, transport=tiktok)
        self.services: Services = app.state.services
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://ttsign")

    async def close(self) -> None:
        await self.http.aclose()
        await self.services.store.close()
        for close in self.services.closers:
            await close()


async def replicas(count: int, **overrides: object) -> list[Replica]:
    settings = Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", **overrides)  # type: ignore[arg-type]
    tiktok = FakeTikTok()  # one TikTok for all replicas: it counts the cookie-page bootstraps
    return [Replica(settings, tiktok) for _ in range(count)]


@pytest.fixture
async def pair() -> AsyncIterator[list[Replica]]:
    require_redis()
    prefix = new_prefix()
    group = await replicas(2, redis_url=REDIS_URL, redis_key_prefix=prefix)
    yield group
    for replica in group:
        await replica.close()
    delete_prefix(prefix)


def assert_length_matches(response: httpx.Response) -> None:
    assert int(response.headers["content-length"]) == len(response.content)


async def test_two_app_instances_share_keys_limits_and_identities(pair: list[Replica]) -> None:
    a, b = pair
    assert isinstance(a.services.store, RedisKeyStore)
    record, key = await a.services.keys.create("shared", Limits(per_minute=4))
    headers = {"X-Api-Key": key}
    statuses = [
        (await (a, b)[i % 2].http.post("/webcast/sign_url", json=SIGN_BODY, headers=headers)).status_code
        for i in range(6)
    ]
    assert statuses == [200, 200, 200, 200, 429, 429]
    refused = await b.http.post("/webcast/sign_url", json=SIGN_BODY, headers=headers)
    assert refused.status_code == 429 and refused.json()["limit_label"] == "minute"
    assert_length_matches(refused)
    limits = await a.http.get("/webcast/rate_limits", headers=headers)
    assert limits.status_code == 200, limits.text
    # One identity for both: the first replica bootstrapped it, the second adopted it.
    tiktok = a.services.transport
    assert isinstance(tiktok, FakeTikTok) and len(tiktok.bootstraps) == 1
    # Revoked on one instance, refused by the other once its 1 s key cache has passed.
    await b.services.keys.revoke(record.key_id)
    await asyncio.sleep(1.05)
    denied = await a.http.post("/webcast/sign_url", json=SIGN_BODY, headers=headers)
    assert denied.status_code == 401


async def test_room_cap_is_shared(pair: list[Replica]) -> None:
    a, b = pair
    _, key = await a.services.keys.create("rooms", Limits(per_minute=100, rooms_per_hour=1))
    headers = {"X-Api-Key": key, **NODE}
    first = await a.http.get(f"/webcast/rooms/{STREAMER_ROOM}/connect", headers=headers)
    assert first.status_code == 200, first.text
    other = await b.http.get("/webcast/rooms/7390000000000000999/connect", headers=headers)
    assert other.status_code == 429 and other.json()["limit_label"] == "rooms"
    chat = await b.http.post("/webcast/rooms/7390000000000000999/chat", headers=headers, json={"content": "hi"})
    assert chat.status_code == 429 and chat.json()["data"] is None
    assert_length_matches(chat)


async def test_store_outage_is_a_503_on_every_route_and_healthz_stays_up() -> None:
    (replica,) = await replicas(1, redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_s=0.3)
    try:
        key = "tts_abcd1234_" + "x" * 43
        requests = [
            replica.http.post("/webcast/sign_url", json=SIGN_BODY),
            replica.http.post("/webcast/sign_url", json=SIGN_BODY, headers={"X-Api-Key": key}),
            replica.http.get("/webcast/fetch", params={"room_id": STREAMER_ROOM}),
            replica.http.get("/webcast/rate_limits"),
            replica.http.get("/webcast/rate_limits", headers={"X-Api-Key": key}),
            replica.http.post("/webcast/chat", json={"content": "hi"}, headers=NODE),
        ]
        for request in requests:
            started = time.monotonic()
            response = await request
            assert time.monotonic() - started < 1.0
            assert response.status_code == 503, response.text
            body = response.json()
            assert (body["code"], body["reason"]) == (503, "store_unavailable"), body
            assert response.headers["Retry-After"] == "1"
            assert_length_matches(response)
        assert (await replica.http.get("/healthz")).status_code == 200
    finally:
        await replica.close()


async def test_a_token_minted_by_one_instance_is_honoured_and_counted_by_the_other(pair: list[Replica]) -> None:
    a, b = pair
    record, key = await a.services.keys.create("browser-app", Limits(per_minute=100))
    minted = await a.http.post(
        "/accounts/me/jwt", json={"expireAfter": 60, "maxWebSockets": 2}, headers={"X-Api-Key": key}
    )
    assert minted.status_code == 200, minted.text
    token = {"x-jwt-key": minted.json()["token"]}  # signed with the JWT secret both read from Redis
    params = {"room_id": STREAMER_ROOM}
    assert (await b.http.get("/webcast/fetch", params=params, headers=token)).status_code == 200
    assert (await a.http.get("/webcast/fetch", params=params, headers=token)).status_code == 200
    spent = await b.http.get("/webcast/fetch", params=params, headers=token)
    assert spent.status_code == 429 and spent.json()["limit_label"] == "connections"
    # Revoking the key revokes its tokens on every instance (looked up per request, no cache).
    other = await a.http.post("/accounts/me/jwt", json={"expireAfter": 60}, headers={"X-Api-Key": key})
    await a.services.keys.revoke(record.key_id)
    revoked = await b.http.get("/webcast/fetch", params=params, headers={"x-jwt-key": other.json()["token"]})
    assert revoked.status_code == 401
