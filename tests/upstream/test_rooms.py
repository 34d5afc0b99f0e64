"""Room lookup by unique id: the pure answer parser and the request shape."""

from __future__ import annotations

import json

import pytest

from ttsign.signing import default_profile
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import Identity
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.rooms import RoomDirectory, normalise_unique_id, parse_room_lookup

JSON = {"content-type": "application/json"}


def answer(document: object) -> bytes:
    return json.dumps(document).encode()


def test_room_id_from_a_live_user() -> None:
    body = answer({"statusCode": 0, "message": "", "data": {"user": {"roomId": "7390000000000000001"}}})
    assert parse_room_lookup(200, JSON, body) == "7390000000000000001"


def test_numeric_room_id_is_accepted() -> None:
    body = answer({"statusCode": 0, "data": {"user": {"roomId": 7390000000000000002}}})
    assert parse_room_lookup(200, JSON, body) == "7390000000000000002"


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (200, answer({"statusCode": 10202, "message": "user_not_found", "data": {}}), RefusalCode.ROOM_NOT_FOUND),
        (200, answer({"statusCode": 0, "data": {"user": {"roomId": ""}}}), RefusalCode.ROOM_NOT_LIVE),
        (200, answer({"statusCode": 0, "data": {"user": {"roomId": "0"}}}), RefusalCode.ROOM_NOT_LIVE),
        (200, answer({"statusCode": 5, "data": {}}), RefusalCode.MALFORMED_PAYLOAD),
        (200, answer([1]), RefusalCode.MALFORMED_PAYLOAD),
        (200, b"<html>verify</html>", RefusalCode.CAPTCHA),
        (200, b"garbage", RefusalCode.MALFORMED_PAYLOAD),
        (403, b"", RefusalCode.FORBIDDEN_403),
        (503, b"", RefusalCode.UPSTREAM_5XX),
    ],
)
def test_refusals(status: int, body: bytes, code: RefusalCode) -> None:
    outcome = parse_room_lookup(status, JSON, body)
    assert isinstance(outcome, Refusal) and outcome.code is code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("emu_streamer", "emu_streamer"), ("@a.b_c", "a.b_c"), (" x ", "x"), ("a b", None), ("", None), ("@", None)],
)
def test_normalise_unique_id(raw: str, expected: str | None) -> None:
    assert normalise_unique_id(raw) == expected


def test_lookup_request_is_the_identitys_browser() -> None:
    profile = default_profile()
    identity = Identity("7000000000000000001", profile, CookieJar({"ttwid": "T"}), created_at=0)
    request = RoomDirectory(object(), www_base="http://127.0.0.1:9/").build_request(identity, "emu_streamer")  # type: ignore[arg-type]
    assert request.url.startswith("http://127.0.0.1:9/api-live/user/room/?aid=1988&")
    assert "uniqueId=emu_streamer" in request.url and "sourceType=54" in request.url
    assert request.headers["User-Agent"] == profile.user_agent
    assert request.headers["Cookie"] == "ttwid=T"
    assert request.impersonate == profile.impersonate


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, answer({"status_code": 0, "data": {"id_str": "7", "status": 2}}), None),
        (200, answer({"status_code": 0, "data": {"id_str": "7", "status": 4}}), RefusalCode.ROOM_NOT_LIVE),
        (200, answer({"status_code": 30001, "data": {"message": "room not found"}}), RefusalCode.ROOM_NOT_FOUND),
        (200, b"", RefusalCode.EMPTY_200),
        (403, b"", RefusalCode.FORBIDDEN_403),
        (200, b"{broken", RefusalCode.MALFORMED_PAYLOAD),
    ],
)
def test_room_info_says_whether_a_room_is_live(status: int, body: bytes, expected: RefusalCode | None) -> None:
    from ttsign.upstream.rooms import Room, parse_room_info

    outcome = parse_room_info(status, JSON, body)
    if expected is None:
        assert outcome == Room("7", True)
    else:
        assert isinstance(outcome, Refusal) and outcome.code is expected
