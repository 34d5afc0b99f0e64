"""The access line: one INFO line per request, as JSON fields, never a secret; off with access_log=False."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.api.test_dropin_routes import Api, make_api, new_key
from tests.e2e.harness import Proc, serve_argv, stop_cleanly
from ttsign import logs
from ttsign.api.access_log import note_strategy
from ttsign.api.observe import Observe
from ttsign.metrics import Metrics

SECRET_SESSION = "SESSIONsecret0123456789abcdef"
SECRET_COOKIE = "COOKIEsecret0123456789abcdef"
FIELDS = {"method", "route", "dialect", "status", "reason", "ms", "key_id", "client", "strategy", "request_id"}


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """What the `ttsign.access` logger writes, through the JSON formatter `ttsign serve` uses, at INFO."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("ttsign.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for value in make_api():
        yield value


async def test_one_line_per_request_with_every_field(api: Api, access_lines: io.StringIO) -> None:
    key_id, key = await new_key(api)
    ok = await api.http.get(
        "/webcast/fetch", params={"room_id": "7", "client": "ttlive-python"}, headers={"X-Api-Key": key}
    )
    missing = await api.http.get("/webcast/nope")
    health = await api.http.get("/healthz")
    assert ok.status_code == 200 and missing.status_code == 404 and health.status_code == 200
    lines = parsed(access_lines)
    assert len(lines) == 3
    for line in lines:
        assert line.keys() >= FIELDS
        assert line["level"] == "INFO" and line["logger"] == "ttsign.access"
        assert isinstance(line["ms"], float) and line["ms"] >= 0
        assert line["client"] == "127.0.0.1"  # httpx's ASGI transport's peer
    connect, unmatched, healthz = lines
    assert connect["route"] == "/webcast/fetch" and connect["method"] == "GET"
    assert connect["status"] == 200 and connect["reason"] is None and connect["dialect"] == "python"
    assert connect["key_id"] == key_id
    assert connect["request_id"] == ok.headers["X-Request-Id"]
    assert unmatched["route"] == "unmatched" and unmatched["status"] == 404 and unmatched["key_id"] is None
    assert healthz["route"] == "/healthz" and healthz["strategy"] is None


async def test_refusals_carry_their_reason_and_anonymous_callers_no_key_id(api: Api, access_lines: io.StringIO) -> None:
    api.tiktok.mode = "not_live"
    refused = await api.http.get("/webcast/fetch", params={"room_id": "7"}, headers={"User-Agent": "curl/8"})
    unknown_key = await api.http.get("/webcast/fetch", params={"room_id": "7"}, headers={"X-Api-Key": "nope" * 8})
    assert refused.status_code == 404 and unknown_key.status_code == 401
    first, second = parsed(access_lines)
    assert first["reason"] == refused.json()["reason"] == "room_not_live"
    assert first["key_id"] is None and first["dialect"] == "other"
    assert second["status"] == 401 and second["reason"] == unknown_key.json()["reason"] and second["key_id"] is None


async def test_no_secret_reaches_the_line(api: Api, access_lines: io.StringIO) -> None:
    key_id, key = await new_key(api)
    minted = await api.http.post("/accounts/me/jwt", json={"expireAfter": 60}, headers={"X-Api-Key": key})
    token = minted.json()["token"]
    cookies = {"Cookie": f"sessionid={SECRET_COOKIE}; sid_tt={SECRET_COOKIE}"}
    await api.http.get(
        "/webcast/fetch", params={"room_id": "7", "apiKey": key, "session_id": SECRET_SESSION}, headers=cookies
    )
    await api.http.get("/webcast/fetch", params={"room_id": "7"}, headers={"x-jwt-key": token, **cookies})
    await api.http.post(
        "/webcast/sign_url",
        params={"apiKey": key},
        json={"url": "https://webcast.tiktok.com/webcast/gift/list/?aid=1988", "sessionId": SECRET_SESSION},
    )
    await api.http.get(f"/webcast/rooms/{key}/connect", params={"session_id": SECRET_SESSION})
    text = access_lines.getvalue()
    assert len(text.splitlines()) == 5
    for secret in (key, token, SECRET_SESSION, SECRET_COOKIE):
        assert secret not in text
    lines = parsed(access_lines)
    assert [line["key_id"] for line in lines[:4]] == [key_id] * 4  # the id, from the key or the token
    assert lines[4]["route"] == "/webcast/rooms/{room_id}/connect"  # the template, not the path holding the key


async def test_off_when_disabled(access_lines: io.StringIO) -> None:
    async for api in make_api(access_log=False):
        assert (await api.http.get("/healthz")).status_code == 200
        assert (await api.http.get("/webcast/fetch", params={"room_id": "7"})).status_code == 200
    assert access_lines.getvalue() == ""


async def test_nothing_below_info(api: Api, access_lines: io.StringIO) -> None:
    logging.getLogger("ttsign.access").setLevel(logging.WARNING)
    assert (await api.http.get("/healthz")).status_code == 200
    assert access_lines.getvalue() == ""


async def test_the_strategy_a_handler_notes_is_logged(access_lines: io.StringIO) -> None:
    async def served(request: Request) -> PlainTextResponse:
        note_strategy(request, "fetch")
        return PlainTextResponse("ok")

    app = Observe(Starlette(routes=[Route("/connect", served)]), Metrics(), access_log=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ttsign") as http:
        assert (await http.get("/connect")).status_code == 200
    (line,) = parsed(access_lines)
    assert line["strategy"] == "fetch" and line["route"] == "/connect"


def test_text_format_appends_the_fields() -> None:
    fields = {"route": "/webcast/fetch", "status": 200, "key_id": None}
    record = logging.LogRecord("ttsign.access", logging.INFO, __file__, 1, "GET", (), None)
    record.fields = fields
    logs.RequestIdFilter().filter(record)
    assert logs.TextFormatter().format(record).endswith("GET route=/webcast/fetch status=200 key_id=-")


@pytest.mark.parametrize("enabled", [True, False])
def test_a_real_server_writes_one_json_line_per_request_to_stderr(tmp_path: Path, enabled: bool) -> None:
    env = {"TTSIGN_STORE_PATH": str(tmp_path / "keys.sqlite3"), "TTSIGN_ACCESS_LOG": str(enabled).lower()}
    proc = Proc(serve_argv("http://127.0.0.1:9"), name="access", env=env).start()
    try:
        url = proc.wait_ready()["url"]
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/healthz").status_code == 200
            refused = http.get(
                "/webcast/fetch",
                params={"room_id": "7", "apiKey": SECRET_SESSION, "session_id": SECRET_SESSION},
                headers={"Cookie": f"sessionid={SECRET_COOKIE}"},
            )
            assert refused.status_code == 401
    finally:
        stderr = stop_cleanly(proc)
    assert SECRET_SESSION not in stderr and SECRET_COOKIE not in stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "ttsign.access"]
    if not enabled:
        assert access == []
        return
    assert [(line["route"], line["status"]) for line in access] == [("/healthz", 200), ("/webcast/fetch", 401)]
    assert access[1]["reason"] == refused.json()["reason"] and access[1]["client"] == "127.0.0.1"
    assert access[1]["request_id"] == refused.headers["X-Request-Id"]
