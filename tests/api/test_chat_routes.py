"""Chat routes with chat enabled: every client's request shape, and every answer in the form it reads."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.upstream.fake_chat import VALID_SESSION, ChatTikTok, cookies_of
from tests.upstream.fake_tiktok import STREAMER_ROOM
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore

PY7 = {"User-Agent": "TikTokLive.py/7.0.1"}
PY66 = {"User-Agent": "TikTokLive.py/6.6.5"}
NODE20 = {"User-Agent": "tiktok-live-connector/2.0.3 linux"}
NODE23 = {"User-Agent": "tiktok-live-connector/2.3.0-beta1 linux"}
NODE25 = {"User-Agent": "tiktok-live-connector/2.5.0 linux"}
JAR = f"ttwid=abc; msToken=def; sessionid={VALID_SESSION}; sessionid_ss={VALID_SESSION}; tt-target-idc=useast5"


@dataclass
class Api:
    http: httpx.AsyncClient
    tiktok: ChatTikTok
    chat_key: str
    plain_key: str


async def _api(chat_enabled: bool = True) -> AsyncIterator[Api]:
    settings = Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", chat_enabled=chat_enabled)
    tiktok = ChatTikTok()
    app = create_app(settings, transport=tiktok, store=MemoryKeyStore())
    keys = app.state.services.keys
    _, chat_key = await keys.create("chat", chat_enabled=True)
    _, plain_key = await keys.create("plain")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign") as http:
        yield Api(http, tiktok, chat_key, plain_key)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for value in _api():
        yield value


async def post(api: Api, path: str, body: Any, headers: dict[str, str], *, key: str | None = None) -> httpx.Response:
    all_headers = {"X-Api-Key": api.chat_key if key is None else key, **headers}
    return await api.http.post(path, json=body, headers=all_headers)


# --- each client's request shape sends the chat -------------------------------------------------------------

ROOM = STREAMER_ROOM
VARIANTS = [
    # TikTokLive 6.6.6 / 7.x (EulerApiSdk): JSON {content, targetRoomId} + x-cookie-header
    ("/webcast/chat", {"content": "hi", "targetRoomId": ROOM}, {**PY7, "x-cookie-header": JAR}, 200),
    # TikTokLive 6.5.2-6.6.5: the session in the body
    (
        "/webcast/chat/",
        {"roomId": ROOM, "content": "hi", "sessionId": VALID_SESSION, "ttTargetIdc": "useast5"},
        PY66,
        200,
    ),
    # Node 2.0: {roomId, content, sessionId}, no data centre
    ("/webcast/chat", {"roomId": int(ROOM), "content": "hi", "sessionId": VALID_SESSION}, NODE20, 200),
    # Node 2.3: empty body session, the whole jar in x-cookie-header
    (
        "/webcast/chat",
        {"content": "hi", "targetRoomId": ROOM, "sessionId": "", "ttTargetIdc": ""},
        {**NODE23, "x-cookie-header": JAR},
        200,
    ),
    # Node 2.4/2.5: the room in the path
    (f"/webcast/rooms/{ROOM}/chat", {"content": "hi"}, {**NODE25, "x-cookie-header": JAR}, 200),
    (f"/webcast/rooms/{ROOM}/chat", {"content": "hi"}, {**NODE25, "x-oauth-token": JAR}, 200),
]


@pytest.mark.parametrize(("path", "body", "headers", "status"), VARIANTS)
async def test_every_client_shape_sends_the_chat(
    api: Api, path: str, body: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    response = await post(api, path, body, headers)
    assert response.status_code == status, response.text
    reply = response.json()
    assert reply["code"] == 200 and reply["data"]["content"] == "hi" and reply["data"]["msg_id"] == "1"
    assert api.tiktok.chats == [(ROOM, "hi")]
    sent = cookies_of(api.tiktok.chat_requests[0])
    assert sent["sessionid"] == VALID_SESSION
    assert "sessionid_ss" not in sent and sent["msToken"] != "def"  # only the login is taken from the client
    assert VALID_SESSION not in response.text


async def test_a_form_body_works_too(api: Api) -> None:
    data = {"roomId": ROOM, "content": "hi", "sessionId": VALID_SESSION, "ttTargetIdc": "useast5"}
    response = await api.http.post("/webcast/chat/", data=data, headers={"X-Api-Key": api.chat_key, **PY66})
    assert response.json()["code"] == 200


# --- refusals in each client's form -------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "http_status"), [(PY7, 200), (NODE25, 401)])
async def test_no_session_is_a_401_in_the_clients_form(api: Api, headers: dict[str, str], http_status: int) -> None:
    response = await post(api, f"/webcast/rooms/{ROOM}/chat", {"content": "hi", "targetRoomId": ROOM}, headers)
    assert response.status_code == http_status
    assert response.json()["code"] == 401 and response.json()["reason"] == "session_required"
    assert api.tiktok.chat_requests == []


@pytest.mark.parametrize(("headers", "http_status"), [(PY7, 200), (NODE25, 401)])
async def test_a_session_tiktok_rejects_is_a_401(api: Api, headers: dict[str, str], http_status: int) -> None:
    jar = "sessionid=ffffffffffffffffffffffffffffffff; tt-target-idc=useast5"
    response = await post(
        api, "/webcast/chat", {"content": "hi", "targetRoomId": ROOM}, {**headers, "x-cookie-header": jar}
    )
    assert response.status_code == http_status
    assert response.json()["code"] == 401 and response.json()["reason"] == "session_rejected"
    assert "ffffffff" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2]",
        {"content": "", "targetRoomId": ROOM},
        {"content": "hi"},
        {"content": ["x"], "roomId": ROOM},
    ],
)
@pytest.mark.parametrize(("headers", "http_status"), [(PY7, 200), (NODE23, 400)])
async def test_bad_input_is_a_400_in_the_clients_form(
    api: Api, body: Any, headers: dict[str, str], http_status: int
) -> None:
    all_headers = {"X-Api-Key": api.chat_key, "x-cookie-header": JAR, "content-type": "application/json", **headers}
    content = body if isinstance(body, str) else None
    kwargs: dict[str, Any] = {"content": content} if content is not None else {"json": body}
    response = await api.http.post("/webcast/chat", headers=all_headers, **kwargs)
    assert response.status_code == http_status, response.text
    assert response.json()["code"] == 400 and response.json()["reason"] == "bad_request"
    assert api.tiktok.chat_requests == []


@pytest.mark.parametrize(("mode", "status"), [("not_live", 404), ("empty", 502), ("timeout", 504), ("5xx", 502)])
async def test_tiktok_refusals_keep_their_status(api: Api, mode: str, status: int) -> None:
    api.tiktok.chat_mode = mode
    body = {"content": "hi"}
    node = await post(api, f"/webcast/rooms/{ROOM}/chat", body, {**NODE25, "x-cookie-header": JAR})
    assert node.status_code == status and node.json()["code"] == status
    python = await post(api, "/webcast/chat", {**body, "targetRoomId": ROOM}, {**PY7, "x-cookie-header": JAR})
    assert python.status_code == 200 and python.json()["code"] == status


async def test_keys_without_chat_and_anonymous_callers_get_not_enabled(api: Api) -> None:
    body = {"content": "hi", "targetRoomId": ROOM}
    for key in (api.plain_key, ""):
        response = await post(api, "/webcast/chat", body, {**NODE23, "x-cookie-header": JAR}, key=key)
        assert response.status_code == 403 and response.json()["reason"] == "chat_not_enabled"
    revoked = await post(api, "/webcast/chat", body, PY7, key="tts_not_a_key")
    assert revoked.status_code == 401 and revoked.json()["data"] is None
    assert api.tiktok.chat_requests == []


async def test_the_server_switch_overrides_the_key() -> None:
    async for api in _api(chat_enabled=False):
        response = await post(
            api, "/webcast/chat", {"content": "hi", "targetRoomId": ROOM}, {**PY7, "x-cookie-header": JAR}
        )
        assert response.status_code == 200 and response.json()["code"] == 403
        assert api.tiktok.chat_requests == []


async def test_the_session_is_in_no_log_line_answer_or_metric(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers = []
    for path, body, headers, _ in VARIANTS:
        answers.append((await post(api, path, body, headers)).text)
    answers.append((await post(api, "/webcast/chat", {"content": "", "sessionId": VALID_SESSION}, PY66)).text)
    answers.append((await post(api, "/webcast/chat", {"content": "x", "sessionId": "bad value;"}, PY66)).text)
    metrics = (await api.http.get("/metrics")).text
    assert len(api.tiktok.chats) == len(VARIANTS)  # they all went through, with the session
    assert "chat to room" in caplog.text
    for where, text in {"logs": caplog.text, "answers": "\n".join(answers), "metrics": metrics}.items():
        assert VALID_SESSION not in text, where
        assert "bad value" not in text, where


async def test_openapi_documents_the_chat_body_and_headers(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    operation = spec["paths"]["/webcast/rooms/{room_id}/chat"]["post"]
    assert {"content"} <= set(operation["requestBody"]["content"]["application/json"]["schema"]["properties"])
    assert "x-cookie-header" in [p["name"] for p in operation["parameters"]]
    assert {"401", "404", "502", "504"} <= set(operation["responses"])
