"""FakeTikTok plus TikTok's chat endpoint, for unit and API tests of chat (no network).

`POST /webcast/room/chat/` verifies the signature like im/fetch, wants the identity's `ttwid` and a
`sessionid` from `sessions`, and answers TikTok-style JSON. `chat_mode` forces other answers.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.upstream.fake_tiktok import STREAMER_ROOM, FakeTikTok
from ttsign.signing import verify_request
from ttsign.upstream.transport import TransportTimeout, UpstreamRequest, UpstreamResponse

VALID_SESSION = "0123456789abcdef0123456789abcdef"
JSON = ("content-type", "application/json")


def _json(document: dict[str, object], status: int = 200) -> UpstreamResponse:
    return UpstreamResponse(status, (JSON,), json.dumps(document).encode())


def cookies_of(request: UpstreamRequest) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in request.headers.get("Cookie", "").split(";"))
    return {name: value for name, _, value in pairs if name}


@dataclass
class ChatTikTok(FakeTikTok):
    """chat_mode: ok | empty | forbidden | captcha | 5xx | timeout | not_live | not_found | weird."""

    chat_mode: str = "ok"
    sessions: tuple[str, ...] = (VALID_SESSION,)
    chats: list[tuple[str, str]] = field(default_factory=list)  # (room_id, content) TikTok accepted
    _msg_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def chat_requests(self) -> list[UpstreamRequest]:
        return [r for r in self.requests if urlsplit(r.url).path == "/webcast/room/chat/"]

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        if urlsplit(request.url).path != "/webcast/room/chat/":
            return await super().send(request)
        self.requests.append(request)
        return self._chat(request)

    def _chat(self, request: UpstreamRequest) -> UpstreamResponse:
        forced = {
            "empty": UpstreamResponse(200, (), b""),
            "forbidden": UpstreamResponse(403, (), b""),
            "captcha": UpstreamResponse(200, (("content-type", "text/html"),), b"<html>captcha</html>"),
            "5xx": UpstreamResponse(503, (), b"busy"),
            "not_live": _json({"status_code": 30003, "message": "room has finished"}),
            "not_found": _json({"status_code": 30001, "message": "room not found"}),
            "weird": _json({"status_code": 4003012, "message": "content violates guidelines"}),
        }
        if self.chat_mode == "timeout":
            raise TransportTimeout("no answer")
        if self.chat_mode in forced:
            return forced[self.chat_mode]
        if request.method != "POST":
            return UpstreamResponse(405, (), b"")
        verdict = verify_request(request.url, "", request.headers.get("User-Agent", ""), now_ms=self.now_ms())
        cookies = cookies_of(request)
        if not verdict.ok or not cookies.get("ttwid"):
            self.verification_failures.extend(f"{c.name}: {c.detail}" for c in verdict.failures)
            return UpstreamResponse(200, (), b"")
        if cookies.get("sessionid") not in self.sessions:
            return _json({"status_code": 20003, "message": "login required", "data": {}})
        query = parse_qs(urlsplit(request.url).query)
        room_id, content = query.get("room_id", [""])[0], query.get("content", [""])[0]
        if room_id != STREAMER_ROOM:
            return _json({"status_code": 30001, "message": "room not found"})
        self.chats.append((room_id, content))
        return _json({"status_code": 0, "data": {"content": content, "msg_id": str(next(self._msg_ids))}})
