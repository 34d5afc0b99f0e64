"""The chat use case: send a viewer's message to a room with the viewer's own TikTok session.

Off unless the operator enables chat and the caller's key allows it (`may_chat`). The session is the only
thing ttsign ever forwards from a client to TikTok, and only here: it is parsed from the request, put on
one signed POST, and dropped. It is never stored, logged, counted in metrics or quoted in an error; the
session id policy of the connect routes (`session_id_policy`) is unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from ttsign.service.rooms import InvalidInput, check_room_id
from ttsign.signing import default_profile
from ttsign.store.base import KeyRecord
from ttsign.upstream.chat import ChatAccepted, ChatClient, SessionRejected, TikTokSession
from ttsign.upstream.identity import Identity, IdentityPool
from ttsign.upstream.refusals import Refusal, RefusalCode

logger = logging.getLogger(__name__)

MAX_CONTENT_CHARS = 300  # TikTok's web box takes 150; a little slack, but never an unbounded query
_SESSION_COOKIES = ("sessionid", "sessionid_ss", "sid_tt")  # the same login under the names clients send
_TARGET_IDC_COOKIE = "tt-target-idc"
# RFC 6265 cookie-octets: no spaces, quotes, commas, semicolons or backslashes, so nothing can be smuggled
# into the Cookie header sent to TikTok.
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,512}")


def may_chat(chat_enabled: bool, key: KeyRecord | None) -> bool:
    """Chat needs the server switch and a key the operator enabled for chat (never anonymous)."""
    return chat_enabled and key is not None and key.chat_enabled


def _cookies(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip()
    return found


def session_from_cookies(text: str) -> TikTokSession | None:
    """The TikTok login in a cookie string (`sessionid=...; tt-target-idc=...`); other cookies are ignored."""
    cookies = _cookies(text)
    session_id = next((cookies[name] for name in _SESSION_COOKIES if cookies.get(name)), "")
    return _session(session_id, cookies.get(_TARGET_IDC_COOKIE, "")) if session_id else None


def _session(session_id: str, target_idc: str) -> TikTokSession:
    # The messages name the field, never the value.
    if not _COOKIE_VALUE.fullmatch(session_id):
        raise InvalidInput("sessionId", "not a valid cookie value")
    if target_idc and not _COOKIE_VALUE.fullmatch(target_idc):
        raise InvalidInput("ttTargetIdc", "not a valid cookie value")
    return TikTokSession(session_id, target_idc)


def resolve_session(
    *, cookie_header: str = "", oauth_token: str = "", session_id: str = "", target_idc: str = ""
) -> TikTokSession | None:
    """The caller's session from wherever its client puts it: the `x-cookie-header` cookie string first,
    then an `x-oauth-token` that is such a string, then the body's `sessionId`/`ttTargetIdc`.

    Euler's OAuth tokens are not TikTok cookies and cannot be used here. Raises InvalidInput for a
    malformed value; None when no session was sent.
    """
    for text in (cookie_header, oauth_token):
        found = session_from_cookies(text) if "=" in text else None
        if found is not None:
            return found
    session_id = session_id.strip()
    return _session(session_id, target_idc.strip()) if session_id else None


def check_content(content: str) -> str:
    if not content.strip():
        raise InvalidInput("content", "missing")
    if len(content) > MAX_CONTENT_CHARS:
        raise InvalidInput("content", f"longer than {MAX_CONTENT_CHARS} characters")
    if any(ord(ch) < 0x20 and ch not in "\t" for ch in content):
        raise InvalidInput("content", "must not contain control characters")
    return content


@dataclass(frozen=True)
class ChatRequest:
    room_id: str
    content: str
    session: TikTokSession | None  # None: the client sent none (answered as unauthenticated)

    def __post_init__(self) -> None:
        object.__setattr__(self, "room_id", check_room_id(self.room_id))
        object.__setattr__(self, "content", check_content(self.content))


@dataclass(frozen=True)
class SessionMissing:
    """The client sent no TikTok session; chat needs the viewer's login."""

    message: str = "sending chat needs your TikTok session: sessionid and tt-target-idc in x-cookie-header"


ChatResult = ChatAccepted | SessionRejected | SessionMissing | Refusal


class ChatService:
    def __init__(
        self,
        pool: IdentityPool,
        client: ChatClient,
        *,
        default_profile_name: str | None = None,
        deadline_s: float = 2.5,
    ) -> None:
        self._pool = pool
        self._client = client
        self._profile = default_profile(default_profile_name)
        self._deadline_s = deadline_s

    async def send(self, request: ChatRequest) -> ChatResult:
        """Sign and send one chat message; TikTok's verdict comes back as a value, never an exception."""
        if request.session is None:
            return SessionMissing()
        try:
            async with asyncio.timeout(self._deadline_s):
                acquired = await self._pool.acquire(self._profile)
                if not isinstance(acquired, Identity):
                    return acquired
                outcome = await self._client.send(acquired, request.session, request.room_id, request.content)
        except TimeoutError:
            return Refusal(RefusalCode.TIMEOUT, f"chat not sent within {self._deadline_s:g} s")
        if isinstance(outcome, Refusal) and outcome.retires_identity:
            self._pool.retire(acquired, f"room/chat: {outcome.code}")
        logger.info("chat to room %s: %s", request.room_id, _describe(outcome))
        return outcome


def _describe(outcome: ChatResult) -> str:
    if isinstance(outcome, ChatAccepted):
        return f"sent (msg_id {outcome.msg_id or '?'})"
    if isinstance(outcome, SessionRejected):
        return f"session rejected by TikTok (status_code {outcome.tiktok_code})"
    if isinstance(outcome, Refusal):
        return f"refused: {outcome.code}"
    return "no session"


__all__ = [
    "ChatAccepted",
    "ChatRequest",
    "ChatResult",
    "ChatService",
    "SessionMissing",
    "SessionRejected",
    "may_chat",
    "resolve_session",
]
