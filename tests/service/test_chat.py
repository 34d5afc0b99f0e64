"""The chat use case over a fake TikTok: signing, the session on one request only, every answer as a value."""

from __future__ import annotations

import logging
import random
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.upstream.fake_chat import VALID_SESSION, ChatTikTok, cookies_of
from tests.upstream.fake_tiktok import STREAMER_ROOM
from ttsign.service.chat import (
    ChatAccepted,
    ChatRequest,
    ChatService,
    SessionMissing,
    SessionRejected,
    may_chat,
    resolve_session,
    session_from_cookies,
)
from ttsign.service.rooms import InvalidInput
from ttsign.store.base import KeyRecord
from ttsign.upstream.chat import ChatClient, TikTokSession, classify_chat
from ttsign.upstream.identity import IdentityPool, bootstrap_identity
from ttsign.upstream.refusals import Refusal, RefusalCode

BASE = "http://127.0.0.1:9"
SESSION = TikTokSession(VALID_SESSION, "useast5")


def service(tiktok: ChatTikTok, *, deadline_s: float = 2.5) -> tuple[ChatService, IdentityPool]:
    rng = random.Random(5)

    async def factory(profile: object) -> object:
        return await bootstrap_identity(tiktok, BASE, profile, rng=rng)  # type: ignore[arg-type]

    pool = IdentityPool(factory)  # type: ignore[arg-type]
    client = ChatClient(tiktok, webcast_base=BASE, now_ms=lambda: time.time_ns() // 1_000_000, rng=rng)
    return ChatService(pool, client, deadline_s=deadline_s), pool


def request(content: str = "hello", session: TikTokSession | None = SESSION, room: str = STREAMER_ROOM) -> ChatRequest:
    return ChatRequest(room, content, session)


async def test_a_signed_chat_with_the_session_reaches_tiktok() -> None:
    tiktok = ChatTikTok()
    chat, _ = service(tiktok)
    result = await chat.send(request("hello & good luck?"))
    assert isinstance(result, ChatAccepted), result
    assert result.content == "hello & good luck?" and result.msg_id == "1"
    assert tiktok.chats == [(STREAMER_ROOM, "hello & good luck?")]
    assert tiktok.verification_failures == []
    sent = tiktok.chat_requests[0]
    assert sent.method == "POST"
    query = parse_qs(urlsplit(sent.url).query)
    assert query["room_id"] == [STREAMER_ROOM] and query["aid"] == ["1988"] and "cursor" not in query
    cookies = cookies_of(sent)
    assert cookies["sessionid"] == VALID_SESSION and cookies["tt-target-idc"] == "useast5"
    assert cookies["ttwid"].startswith("1%7Cttwid-")


async def test_the_session_is_used_for_that_request_only() -> None:
    tiktok = ChatTikTok()
    chat, pool = service(tiktok)
    assert isinstance(await chat.send(request()), ChatAccepted)
    other = await chat.send(request(session=TikTokSession("ffff" * 8, "useast5")))
    assert isinstance(other, SessionRejected) and other.tiktok_code == 20003
    second = cookies_of(tiktok.chat_requests[1])
    assert second["sessionid"] == "ffff" * 8  # not the first caller's session, nothing left behind
    identity = await pool.acquire(chat._profile)
    assert not isinstance(identity, Refusal)
    assert VALID_SESSION not in identity.cookies.header() and "sessionid" not in identity.cookies.header()


async def test_no_session_is_answered_without_calling_tiktok() -> None:
    tiktok = ChatTikTok()
    chat, _ = service(tiktok)
    assert isinstance(await chat.send(request(session=None)), SessionMissing)
    assert tiktok.requests == []


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("empty", RefusalCode.EMPTY_200),
        ("forbidden", RefusalCode.FORBIDDEN_403),
        ("captcha", RefusalCode.CAPTCHA),
        ("5xx", RefusalCode.UPSTREAM_5XX),
        ("timeout", RefusalCode.TIMEOUT),
        ("not_live", RefusalCode.ROOM_NOT_LIVE),
        ("not_found", RefusalCode.ROOM_NOT_FOUND),
        ("weird", RefusalCode.UPSTREAM_4XX),
    ],
)
async def test_tiktoks_refusals_are_typed_and_never_retried(mode: str, code: RefusalCode) -> None:
    tiktok = ChatTikTok(chat_mode=mode)
    chat, _ = service(tiktok)
    result = await chat.send(request())
    assert isinstance(result, Refusal) and result.code == code
    assert len(tiktok.chat_requests) == 1  # a retry could post the message twice
    assert VALID_SESSION not in result.message


async def test_a_refused_identity_is_retired() -> None:
    tiktok = ChatTikTok(chat_mode="empty")
    chat, _ = service(tiktok)
    await chat.send(request())
    tiktok.chat_mode = "ok"
    assert isinstance(await chat.send(request()), ChatAccepted)
    assert len(tiktok.bootstraps) == 2


async def test_a_slow_tiktok_is_a_timeout_within_the_deadline() -> None:
    tiktok = ChatTikTok(delay_s=1.0)
    chat, _ = service(tiktok, deadline_s=0.2)
    started = time.monotonic()
    result = await chat.send(request())
    assert isinstance(result, Refusal) and result.code == RefusalCode.TIMEOUT
    assert time.monotonic() - started < 0.9


async def test_the_session_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for mode in ("ok", "empty", "timeout"):
        chat, _ = service(ChatTikTok(chat_mode=mode))
        await chat.send(request())
    assert "chat to room" in caplog.text
    assert VALID_SESSION not in caplog.text
    assert VALID_SESSION not in repr(SESSION) and VALID_SESSION not in repr(request())


# --- input rules --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "room"),
    [("", STREAMER_ROOM), ("   ", STREAMER_ROOM), ("x" * 301, STREAMER_ROOM), ("a\nb", STREAMER_ROOM), ("hi", "abc")],
)
def test_bad_content_or_room_is_refused(content: str, room: str) -> None:
    with pytest.raises(InvalidInput):
        ChatRequest(room, content, SESSION)


def test_sessions_come_from_the_cookie_header_then_the_oauth_header_then_the_body() -> None:
    jar = f"ttwid=abc; msToken=xyz; sessionid={VALID_SESSION}; tt-target-idc=useast5"
    assert resolve_session(cookie_header=jar, session_id="other") == SESSION
    assert resolve_session(oauth_token=f"sessionid={VALID_SESSION}; tt-target-idc=useast5") == SESSION
    assert resolve_session(session_id=VALID_SESSION, target_idc="useast5") == SESSION
    assert resolve_session(oauth_token="an-euler-oauth-token") is None
    assert resolve_session(cookie_header="ttwid=abc") is None
    assert resolve_session() is None
    # The connector sends the login under all of its names; any one of them will do.
    assert session_from_cookies(f"sid_tt={VALID_SESSION}; tt-target-idc=eu") == TikTokSession(VALID_SESSION, "eu")


@pytest.mark.parametrize("value", ["a b", "a;b", 'a"b', "a,b", "x" * 513])
def test_a_session_that_could_smuggle_cookies_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        resolve_session(session_id=value)
    assert value not in str(raised.value)


def test_chat_needs_the_server_switch_and_a_key_enabled_for_it() -> None:
    key = KeyRecord("k1", "h", "n", 0.0, chat_enabled=True)
    assert may_chat(True, key)
    assert not may_chat(False, key)
    assert not may_chat(True, KeyRecord("k2", "h", "n", 0.0))
    assert not may_chat(True, None)


def test_classify_chat_reads_tiktoks_json() -> None:
    ok = classify_chat(200, {}, b'{"status_code":0,"data":{"content":"c","msg_id":"9"}}')
    assert ok == ChatAccepted("9", "c")
    assert isinstance(classify_chat(200, {}, b'{"status_code":20003,"message":"login required"}'), SessionRejected)
    bad = classify_chat(200, {}, b"not json")
    assert isinstance(bad, Refusal) and bad.code == RefusalCode.MALFORMED_PAYLOAD
