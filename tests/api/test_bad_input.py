"""Bad input by hand, the cases generators rarely reach: oversize and streamed bodies, broken JSON and
forms, undecodable query bytes. Always a JSON 4xx, never a 500 or a hang."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore

LIMIT = 4096
SIGN_ROUTES = ["/webcast/sign_url", "/webcast/sign_url/", "/tiktok/sign_url"]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(upstream="http://127.0.0.1:9", max_request_body_bytes=LIMIT)
    app = create_app(settings, transport=FakeTikTok(), store=MemoryKeyStore())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=5) as http:
        yield http


def assert_json_error(response: httpx.Response, *statuses: int) -> dict[str, object]:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and body.get("code") == response.status_code and body.get("message")
    return body


@pytest.mark.parametrize("path", SIGN_ROUTES)
async def test_an_oversize_body_is_a_413(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(
        path, content=b"{" + b" " * (LIMIT + 10) + b"}", headers={"Content-Type": "application/json"}
    )
    assert assert_json_error(response, 413)["reason"] == "payload_too_large"


async def test_an_oversize_streamed_body_without_length_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 1024

    response = await client.post("/webcast/sign_url", content=chunks(), headers={"Content-Type": "application/json"})
    assert assert_json_error(response, 413)["reason"] == "payload_too_large"


@pytest.mark.parametrize("path", SIGN_ROUTES)
@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"url": ', "application/json", "bad_request"),
        (b"[1, 2]", "application/json", "bad_request"),
        (b'{"url": 5}', "application/json", "bad_request"),
        (b"\xff\xfe\x00", "application/json", "bad_request"),
        # A well-formed form whose url is no absolute URL: the body is fine, the URL is not.
        (b"url=%zz%ff&&=", "application/x-www-form-urlencoded", "url_invalid"),
        (b"--b\r\nbroken", "multipart/form-data; boundary=b", "bad_request"),
        (b"just text", "text/plain", "bad_request"),
    ],
)
async def test_malformed_bodies_are_json_400s(
    client: httpx.AsyncClient, path: str, body: bytes, content_type: str, reason: str
) -> None:
    response = await client.post(path, content=body, headers={"Content-Type": content_type})
    assert assert_json_error(response, 400)["reason"] == reason


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/webcast/fetch?room_id=abc", "bad_request"),
        ("/webcast/fetch?room_id=%ff%fe", "bad_request"),
        ("/webcast/fetch?room_id=1&cursor=%00", "bad_request"),
        ("/webcast/fetch?room_id=" + "9" * 400, "bad_request"),
        ("/webcast/rooms/%ff/connect", "bad_request"),
        ("/webcast/rooms/1%00/connect", "bad_request"),
        ("/webcast/room_id?uniqueId=%ff", "bad_request"),
        ("/webcast/anchors/%00/room_id", "bad_request"),
        ("/webcast/sign_url?url=%ff", "url_invalid"),
        ("/webcast/sign_url?url=http://%zz", "url_invalid"),
    ],
)
async def test_malformed_query_and_path_values_are_json_400s(
    client: httpx.AsyncClient, target: str, reason: str
) -> None:
    response = await client.get(target)
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["reason"] == reason
