"""Structured logs: one JSON object per line, the request id stamped, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ttsign import logs

SECRET = "S3CRETvalue0123456789"


@pytest.mark.parametrize(
    "text",
    [
        f"GET /webcast/fetch?room_id=1&apiKey={SECRET}&client=x",
        f"GET /webcast/fetch?session_id={SECRET}",
        f'{{"sessionId": "{SECRET}", "url": "u"}}',
        f"x-api-key: {SECRET}",
        f"X-Api-Key={SECRET}",
        f"Cookie: sessionid={SECRET}; tt-target-idc=useast1a",
        f"x-cookie-header: sid_tt={SECRET}",
        f"set-cookie ttwid={SECRET}; Path=/",
        f"https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&msToken={SECRET}&X-Bogus=abc",
        f"{{'msToken': '{SECRET}'}}",
        f'"WebSocket /ws?uniqueId=u&jwtKey={SECRET}" [accepted]',
        f'"GET /overlay/chat?uniqueId=u&key={SECRET} HTTP/1.1" 200',
        f'"WebSocket /webcast/relay/push/?relay_room=room:1&relay_ticket={SECRET}" [accepted]',
    ],
)
def test_redact_masks_secret_values(text: str) -> None:
    redacted = logs.redact(text)
    assert SECRET not in redacted
    assert logs.MASK in redacted


@pytest.mark.parametrize(
    "text",
    [
        "identity 1a2b3c4d retired: captcha",
        "request abc room 7390000000000000001 refused: timeout (no answer within 2.5 s)",
        "cookie page: no answer within 2.5 s",
        "strict check ttwid_cookie ok",
    ],
)
def test_redact_leaves_ordinary_lines_alone(text: str) -> None:
    assert logs.redact(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("ttsign.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)


def test_json_lines_carry_the_request_id_and_mask_secrets(captured: io.StringIO) -> None:
    logger = logging.getLogger("ttsign.test_logs")
    token = logs.REQUEST_ID.set("req-1234567")
    try:
        logger.info("signing %s", f"https://x/?apiKey={SECRET}")
        try:
            raise ValueError(f"boom session_id={SECRET}")
        except ValueError:
            logger.exception("failed")
    finally:
        logs.REQUEST_ID.reset(token)
    logger.warning("outside any request")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert len(lines) == 3
    assert [line.get("request_id") for line in lines] == ["req-1234567", "req-1234567", None]
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "ttsign.test_logs"
    assert "exc" in lines[1] and "ValueError" in lines[1]["exc"]
    assert SECRET not in captured.getvalue()


def test_text_format_masks_too() -> None:
    record = logging.LogRecord("ttsign.x", logging.INFO, __file__, 1, "key %s", (f"apiKey={SECRET}",), None)
    logs.RequestIdFilter().filter(record)
    line = logs.TextFormatter().format(record)
    assert SECRET not in line and "[-]" in line


def test_json_fields_sit_beside_the_message_masked_and_never_replace_the_envelope(captured: io.StringIO) -> None:
    fields = {"route": "/webcast/fetch", "status": 200, "level": "FORGED", "note": f"apiKey={SECRET}"}
    logging.getLogger("ttsign.test_logs").info("GET", extra={logs.FIELDS: fields})
    (line,) = [json.loads(text) for text in captured.getvalue().splitlines()]
    assert line["route"] == "/webcast/fetch" and line["status"] == 200
    assert line["level"] == "INFO" and line["message"] == "GET"
    assert SECRET not in captured.getvalue() and line["note"] == f"apiKey={logs.MASK}"


def test_timestamps_are_utc_with_milliseconds_across_seconds() -> None:
    # The whole-second part is cached: a later second (or an earlier one, from another thread) must not reuse it.
    assert logs._timestamp(1_700_000_000.25) == "2023-11-14T22:13:20.250Z"
    assert logs._timestamp(1_700_000_000.999) == "2023-11-14T22:13:20.999Z"
    assert logs._timestamp(1_700_000_001.0) == "2023-11-14T22:13:21.000Z"
    assert logs._timestamp(86_400.5) == "1970-01-02T00:00:00.500Z"
