"""The signed `POST /webcast/room/chat/` that sends a viewer's chat message, and how TikTok's answer reads.

The user's session cookies ride on this one request only: they go into its `Cookie` header next to the
identity's own cookies and are dropped with the request. Nothing here logs, stores or echoes them, and a
request built here has a repr that hides its headers (see `ChatCall`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from ttsign.signing.signer import SignJob
from ttsign.upstream.browser_headers import fetch_headers
from ttsign.upstream.identity.value import Identity
from ttsign.upstream.refusals import (
    Refusal,
    RefusalCode,
    classify_error_status,
    classify_transport_failure,
    json_object,
)
from ttsign.upstream.signer import InProcessSigner, RequestSigner
from ttsign.upstream.transport import Transport, TransportError, TransportTimeout, UpstreamRequest
from ttsign.upstream.webcast import TIKTOK_ORIGIN, RoomRequest, im_fetch_params

ROOM_CHAT_PATH = "/webcast/room/chat/"
LOGIN_REQUIRED_CODES = frozenset({20003})  # TikTok: the session is missing, expired or logged out
_ROOM_CODES = {30001: RefusalCode.ROOM_NOT_FOUND, 30003: RefusalCode.ROOM_NOT_LIVE}
# im/fetch parameters that make no sense on a chat POST.
_FETCH_ONLY = frozenset(
    {"cursor", "internal_ext", "fetch_rule", "history_comment_count", "history_comment_cursor", "last_rtt"}
    | {"resp_content_type", "sup_ws_ds_opt", "did_rule", "live_id", "identity", "room_id", "contact_us"}
)


@dataclass(frozen=True)
class TikTokSession:
    """A TikTok login: the `sessionid` cookie and its data centre (`tt-target-idc`). Never printed."""

    session_id: str = field(repr=False)
    target_idc: str = field(default="", repr=False)

    def cookie_pairs(self) -> list[str]:
        pairs = [f"sessionid={self.session_id}"]
        if self.target_idc:
            pairs.append(f"tt-target-idc={self.target_idc}")
        return pairs


@dataclass(frozen=True)
class ChatAccepted:
    """TikTok took the message."""

    msg_id: str
    content: str


@dataclass(frozen=True)
class SessionRejected:
    """TikTok does not accept the user's session (logged out, expired, or not a session at all)."""

    tiktok_code: int
    message: str


ChatOutcome = ChatAccepted | SessionRejected | Refusal


def room_chat_query(identity: Identity, room_id: str, content: str) -> str:
    """The browser's web parameters plus room_id and content, encoded as the web client does."""
    params = [(k, v) for k, v in im_fetch_params(identity, RoomRequest(""), contact_email="") if k not in _FETCH_ONLY]
    params += [("room_id", room_id), ("content", content)]
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def classify_chat(status: int, headers: dict[str, str], body: bytes) -> ChatOutcome:
    """Judge TikTok's answer to a chat POST. `headers` keys are lower-case."""
    if status != 200:
        return classify_error_status(status, headers, body)
    if not body.strip():
        return Refusal(RefusalCode.EMPTY_200, upstream_status=status)
    if body.lstrip()[:1] == b"<":
        return Refusal(RefusalCode.CAPTCHA, "HTML page instead of JSON", status)
    document = json_object(status, body)
    if isinstance(document, Refusal):
        return document
    code = document.get("status_code")
    message = document.get("message")
    text = message[:200] if isinstance(message, str) else ""
    if code == 0:
        data = document.get("data")
        data = data if isinstance(data, dict) else {}
        return ChatAccepted(str(data.get("msg_id", "")), str(data.get("content", "")))
    if isinstance(code, int) and code in LOGIN_REQUIRED_CODES:
        return SessionRejected(code, text or "login required")
    if isinstance(code, int) and code in _ROOM_CODES:
        return Refusal(_ROOM_CODES[code], text, status)
    return Refusal(RefusalCode.UPSTREAM_4XX, f"chat refused: status_code={code!r} {text}".strip(), status)


class ChatClient:
    """Sends chat messages to webcast.tiktok.com (or the emulator) as an identity, with a user's session."""

    def __init__(
        self,
        transport: Transport,
        *,
        webcast_base: str,
        signer: RequestSigner | None = None,
        now_ms: Callable[[], int],
        rng: random.Random,
    ) -> None:
        self._transport = transport
        self._base = webcast_base.rstrip("/")
        self._signer: RequestSigner = signer or InProcessSigner()
        self._now_ms = now_ms
        self._rng = rng

    async def build_request(
        self, identity: Identity, session: TikTokSession, room_id: str, content: str
    ) -> UpstreamRequest | Refusal:
        """The signed POST (never retried with another backend: a retry could post the message twice)."""
        profile = identity.profile
        url = f"{self._base}{ROOM_CHAT_PATH}?{room_chat_query(identity, room_id, content)}"
        job = SignJob("POST", url, "", profile, self._now_ms(), identity.ms_token, identity.sdk_session)
        outcome = await self._signer.sign(job, self._rng)
        if isinstance(outcome, Refusal):
            return outcome
        signed = outcome.request
        identity.sdk_session = signed.session
        own = identity.cookies.header()
        cookie = "; ".join([*([own] if own else []), *session.cookie_pairs()])
        headers = {
            "Accept": "application/json, text/plain, */*",
            "Accept-Language": profile.accept_language,
            "Referer": f"{TIKTOK_ORIGIN}/",
            "Origin": TIKTOK_ORIGIN,
            "Content-Type": "application/x-www-form-urlencoded",
            **fetch_headers(profile, "same-site"),
            **signed.headers,
            "User-Agent": profile.user_agent,
            "Cookie": cookie,
        }
        return UpstreamRequest("POST", signed.url, headers, profile.impersonate)

    async def send(self, identity: Identity, session: TikTokSession, room_id: str, content: str) -> ChatOutcome:
        """One signed chat POST; never retried (a retry could post the message twice)."""
        request = await self.build_request(identity, session, room_id, content)
        if isinstance(request, Refusal):
            return request
        try:
            response = await self._transport.send(request)
        except TransportTimeout:
            return classify_transport_failure(timed_out=True, detail="room/chat")
        except TransportError:
            # The transport's message may quote the request; say only where it failed.
            return classify_transport_failure(timed_out=False, detail="room/chat")
        # Only the rotated msToken is kept: a Set-Cookie here may carry the user's refreshed session, which
        # must never land in the shared identity's jar.
        identity.absorb([], response.header("x-ms-token"))
        return classify_chat(response.status, response.first_headers, response.body)
