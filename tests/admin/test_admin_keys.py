"""The console's key routes: create (plaintext once), list with today's usage, limits, chat, revoke, usage charts."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.admin.conftest import Console
from tests.upstream.fake_tiktok import STREAMER_ROOM


async def create(console: Console, **body: Any) -> dict[str, Any]:
    response = await console.http.post("/admin/api/keys", json={"name": "overlay", **body}, headers=console.headers())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def keys(console: Console) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await console.http.get("/admin/api/keys")).json()["keys"]
    return listed


def api_client(console: Console) -> httpx.AsyncClient:
    """A client of the public API on the same app, without the console's cookie."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=console.app), base_url="http://ttsign.test")


async def connect(http: httpx.AsyncClient, plaintext: str) -> httpx.Response:
    params = {"room_id": STREAMER_ROOM, "client": "ttlive-python"}
    return await http.get("/webcast/fetch", params=params, headers={"X-Api-Key": plaintext})


async def test_a_created_key_is_shown_once_and_works(logged_in: Console) -> None:
    created = await create(logged_in, limits={"per_minute": 7, "rooms_per_hour": 3}, chat_enabled=True)
    plaintext = created["api_key"]
    row = created["key"]
    assert plaintext.startswith(f"tts_{row['key_id']}_")
    assert (row["name"], row["chat_enabled"], row["revoked_at"]) == ("overlay", True, None)
    assert row["limits"] == {"per_minute": 7, "per_hour": None, "per_day": None, "rooms_per_hour": 3}
    settings = logged_in.app.state.services.settings
    assert row["effective"] == {
        "per_minute": 7,
        "per_hour": settings.key_per_hour,
        "per_day": settings.key_per_day,
        "rooms_per_hour": 3,
    }
    listed = await keys(logged_in)
    assert [k["key_id"] for k in listed] == [row["key_id"]]
    assert plaintext not in str(listed) and "key_hash" not in listed[0]  # never again, not even hashed
    async with api_client(logged_in) as http:
        answer = await http.get("/webcast/rate_limits", headers={"X-Api-Key": plaintext})
    assert answer.status_code == 200, answer.text


async def test_limits_are_changed_and_enforced_and_chat_switched(logged_in: Console) -> None:
    created = await create(logged_in)
    key_id, plaintext = created["key"]["key_id"], created["api_key"]
    change = {"limits": {"per_minute": 2}, "chat_enabled": True}
    response = await logged_in.http.patch(f"/admin/api/keys/{key_id}", json=change, headers=logged_in.headers())
    assert response.status_code == 200, response.text
    assert response.json()["key"]["effective"]["per_minute"] == 2 and response.json()["key"]["chat_enabled"] is True
    record = await logged_in.app.state.services.store.by_id(key_id)
    assert record.limits.per_minute == 2 and record.chat_enabled
    logged_in.app.state.services.keys._cache.clear()  # the 1 s key cache: see the change now
    async with api_client(logged_in) as http:
        statuses = [(await connect(http, plaintext)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_bad_key_bodies_are_clear_400s(logged_in: Console) -> None:
    headers = logged_in.headers()
    for body in (
        {},
        {"name": ""},
        {"name": "x" * 65},
        {"name": "ok", "limits": {"per_minute": 0}},
        {"name": "ok", "limits": {"per_week": 5}},
        {"name": "ok", "admin": True},
        {"name": "line\nbreak"},
    ):
        response = await logged_in.http.post("/admin/api/keys", json=body, headers=headers)
        assert (response.status_code, response.json()["reason"]) == (400, "bad_request"), body
    patch = await logged_in.http.patch("/admin/api/keys/nope", json={"chat_enabled": "maybe"}, headers=headers)
    assert patch.status_code == 400
    assert await keys(logged_in) == []


async def test_unknown_keys_are_404(logged_in: Console) -> None:
    headers = logged_in.headers()
    for method, path in (
        ("PATCH", "/admin/api/keys/deadbeef"),
        ("POST", "/admin/api/keys/deadbeef/revoke"),
        ("GET", "/admin/api/keys/deadbeef/usage"),
    ):
        response = await logged_in.http.request(method, path, json={} if method == "PATCH" else None, headers=headers)
        assert (response.status_code, response.json()["reason"]) == (404, "key_not_found"), path


async def test_revoking_refuses_the_key(logged_in: Console) -> None:
    created = await create(logged_in)
    key_id, plaintext = created["key"]["key_id"], created["api_key"]
    revoked = await logged_in.http.post(f"/admin/api/keys/{key_id}/revoke", headers=logged_in.headers())
    assert revoked.status_code == 200 and revoked.json()["key"]["revoked_at"] is not None
    assert (await keys(logged_in))[0]["revoked_at"] is not None
    async with api_client(logged_in) as http:
        answer = await http.get("/webcast/rate_limits", headers={"X-Api-Key": plaintext})
    assert answer.status_code == 401


async def test_usage_shows_at_once_per_minute_per_hour_and_by_room(logged_in: Console) -> None:
    created = await create(logged_in)
    key_id, plaintext = created["key"]["key_id"], created["api_key"]
    before = (await logged_in.http.get(f"/admin/api/keys/{key_id}/usage")).json()
    assert before["minute"]["counts"] == {} and before["top_rooms"] == []
    assert (before["minute"]["step"], before["hour"]["step"]) == (60, 3600)
    async with api_client(logged_in) as http:
        connected = await connect(http, plaintext)
        assert connected.status_code == 200, connected.text
        await http.get("/webcast/rate_limits", headers={"X-Api-Key": plaintext})
    usage = (await logged_in.http.get(f"/admin/api/keys/{key_id}/usage")).json()
    minute, hour = usage["minute"], usage["hour"]
    assert sum(minute["counts"]["requests"]) == 2 and sum(minute["counts"]["connects"]) == 1
    assert len(minute["counts"]["requests"]) == 120 and len(hour["counts"]["requests"]) == 720
    now = time.time()
    assert minute["start"] + 119 * 60 <= now < minute["start"] + 120 * 60  # the last bucket is this minute
    assert minute["counts"]["requests"][-1] >= 1 or minute["counts"]["requests"][-2] >= 1
    assert sum(hour["counts"]["requests"]) == 2
    assert usage["top_rooms"] == [[STREAMER_ROOM, 1]]
    row = next(k for k in await keys(logged_in) if k["key_id"] == key_id)
    assert row["today"]["requests"] == 2 and row["today"]["connects"] == 1


async def test_a_long_key_list_is_gzipped_for_clients_that_take_it(logged_in: Console) -> None:
    service = logged_in.app.state.services.keys
    for n in range(150):
        await service.create(f"bulk-{n:03d}")
    zipped = await logged_in.http.get("/admin/api/keys", headers={"Accept-Encoding": "gzip"})
    plain = await logged_in.http.get("/admin/api/keys", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert int(zipped.headers["content-length"]) * 4 < int(plain.headers["content-length"])
    assert zipped.json() == plain.json() and len(plain.json()["keys"]) == 150
    assert zipped.headers["cache-control"] == "no-store"
    small = await logged_in.http.get("/admin/api/session", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
