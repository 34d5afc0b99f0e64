"""Classification of raw im/fetch answers, on bytes."""

from __future__ import annotations

import json

import pytest

from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult
from ttsign.upstream.refusals import (
    FetchPayload,
    Refusal,
    RefusalCode,
    classify_bootstrap,
    classify_fetch,
    classify_transport_failure,
)

PROTO = {"content-type": "application/protobuf"}
JSON = {"content-type": "application/json"}
HTML = {"content-type": "text/html; charset=utf-8"}


def fetch_result(**fields: object) -> bytes:
    result = ProtoMessageFetchResult(
        cursor=str(fields.get("cursor", "1700000000000_1")),
        push_server=str(fields.get("push_server", "ws://127.0.0.1:1/webcast/im/ws_proxy/ws_reuse_supplement/")),
        internal_ext="ext",
        is_first=bool(fields.get("is_first", True)),
    )
    result.route_params["wrss"] = "token"
    return result.SerializeToString()


def code_of(outcome: FetchPayload | Refusal) -> RefusalCode:
    assert isinstance(outcome, Refusal), outcome
    return outcome.code


def test_valid_fetch_result_is_a_payload_with_the_bytes_unchanged() -> None:
    body = fetch_result(cursor="c-42")
    outcome = classify_fetch(200, PROTO, body)
    assert isinstance(outcome, FetchPayload)
    assert outcome.body is body
    assert outcome.cursor == "c-42"
    assert outcome.push_server.startswith("ws://")
    assert outcome.is_first


def test_protobuf_without_content_type_is_still_parsed() -> None:
    assert isinstance(classify_fetch(200, {}, fetch_result()), FetchPayload)


def test_empty_200_is_its_own_refusal_and_retires_the_identity() -> None:
    refusal = classify_fetch(200, PROTO, b"")
    assert code_of(refusal) is RefusalCode.EMPTY_200
    assert isinstance(refusal, Refusal)
    assert refusal.retires_identity
    assert not refusal.transient


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            json.dumps({"status_code": 30003, "message": "room has finished", "data": {}}),
            RefusalCode.ROOM_NOT_LIVE,
        ),
        (
            json.dumps({"status_code": 30001, "message": "room not found", "data": {}}),
            RefusalCode.ROOM_NOT_FOUND,
        ),
        (json.dumps({"status_code": 10101, "message": "other"}), RefusalCode.MALFORMED_PAYLOAD),
        ("[1, 2]", RefusalCode.MALFORMED_PAYLOAD),
        ("{not json", RefusalCode.MALFORMED_PAYLOAD),
        (
            json.dumps({"code": "10000", "type": "verify", "verify_center_decision": "captcha"}),
            RefusalCode.CAPTCHA,
        ),
    ],
)
def test_json_answers(body: str, expected: RefusalCode) -> None:
    assert code_of(classify_fetch(200, JSON, body.encode())) is expected


def test_room_refusals_do_not_retire_the_identity_and_carry_tiktoks_message() -> None:
    body = json.dumps({"status_code": 30003, "message": "room has finished"}).encode()
    refusal = classify_fetch(200, JSON, body)
    assert isinstance(refusal, Refusal)
    assert not refusal.retires_identity
    assert "room has finished" in refusal.message


@pytest.mark.parametrize("status", [200, 403, 429])
def test_captcha_html_is_captcha_whatever_the_status(status: int) -> None:
    page = b"<!DOCTYPE html><html><head><title>Verify</title></head><body><div id='captcha-verify'></div>"
    assert code_of(classify_fetch(status, HTML, page)) is RefusalCode.CAPTCHA


def test_any_html_on_200_is_a_waf_page() -> None:
    assert code_of(classify_fetch(200, HTML, b"<html><body>hello</body></html>")) is RefusalCode.CAPTCHA


def test_plain_403_is_forbidden() -> None:
    refusal = classify_fetch(403, {}, b"")
    assert code_of(refusal) is RefusalCode.FORBIDDEN_403
    assert isinstance(refusal, Refusal) and refusal.upstream_status == 403


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(status: int) -> None:
    refusal = classify_fetch(status, {}, b"oops")
    assert code_of(refusal) is RefusalCode.UPSTREAM_5XX
    assert isinstance(refusal, Refusal) and refusal.transient and not refusal.retires_identity


def test_other_4xx() -> None:
    assert code_of(classify_fetch(429, {}, b"")) is RefusalCode.UPSTREAM_4XX


def test_device_blocked_from_handshake_header_or_text_body() -> None:
    assert code_of(classify_fetch(200, {"handshake-msg": "DEVICE_BLOCKED"}, b"")) is RefusalCode.DEVICE_BLOCKED
    assert code_of(classify_fetch(403, {"content-type": "text/plain"}, b"DEVICE_BLOCKED")) is RefusalCode.DEVICE_BLOCKED


def test_device_blocked_inside_a_valid_protobuf_is_just_data() -> None:
    result = ProtoMessageFetchResult()
    result.ParseFromString(fetch_result())
    result.history_comment_cursor = "DEVICE_BLOCKED"
    assert isinstance(classify_fetch(200, PROTO, result.SerializeToString()), FetchPayload)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff\xff\xff\xff",  # not protobuf at all
        b"\x12\x05ab",  # truncated length-delimited field
        ProtoMessageFetchResult(push_server="ws://x/").SerializeToString(),  # no cursor
        ProtoMessageFetchResult(cursor="c").SerializeToString(),  # no push_server
    ],
)
def test_malformed_protobuf(body: bytes) -> None:
    assert code_of(classify_fetch(200, PROTO, body)) is RefusalCode.MALFORMED_PAYLOAD


def test_text_that_is_not_protobuf() -> None:
    assert code_of(classify_fetch(200, {"content-type": "text/plain"}, b"hello")) is RefusalCode.MALFORMED_PAYLOAD


def test_transport_failures() -> None:
    assert classify_transport_failure(timed_out=True, detail="x").code is RefusalCode.TIMEOUT
    assert classify_transport_failure(timed_out=False, detail="x").code is RefusalCode.TRANSPORT_ERROR


def test_every_code_has_a_message_and_a_hint() -> None:
    for code in RefusalCode:
        refusal = Refusal(code, detail="d")
        assert refusal.message.endswith("(d)") and len(refusal.message) > 10
        assert refusal.hint


@pytest.mark.parametrize(
    ("status", "body", "got_ttwid", "expected"),
    [
        (200, b"<html></html>", True, None),
        (302, b"", True, None),
        (200, b"<html></html>", False, RefusalCode.NO_TTWID),
        (403, b"", False, RefusalCode.FORBIDDEN_403),
        (403, b"", True, RefusalCode.FORBIDDEN_403),
        (503, b"", False, RefusalCode.UPSTREAM_5XX),
        (200, b"<html>captcha</html>", False, RefusalCode.CAPTCHA),
        (404, b"", False, RefusalCode.UPSTREAM_4XX),
    ],
)
def test_bootstrap_classification(status: int, body: bytes, got_ttwid: bool, expected: RefusalCode | None) -> None:
    refusal = classify_bootstrap(status, HTML, body, got_ttwid=got_ttwid)
    assert (refusal.code if refusal else None) is expected
