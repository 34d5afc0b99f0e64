"""An in-memory TikTok double implementing the Transport protocol, for unit tests of the upstream engine.

It plays the routes the engine uses: the cookie-issuing pages (the front page and profile pages), the room
lookup and im/fetch. `mode` picks how
im/fetch answers; `verify` checks signatures with ttsign.signing the way the emulator does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult
from ttsign.signing import verify_request
from ttsign.upstream.transport import TransportError, TransportTimeout, UpstreamRequest, UpstreamResponse

PUSH_SERVER = "ws://127.0.0.1:1/webcast/im/ws_proxy/ws_reuse_supplement/"
# The connect path before 2026-09, which the tests of TikTok's im/fetch answers exercise: the fetch strategy
# alone, signed as Euler's custom-sign-server guide says (the defaults are `direct,fetch` and an unsigned im/fetch).
FETCH_PATH: dict[str, object] = {
    "connect_strategies": ("fetch",),
    "signatures_by_endpoint": {"im_fetch": ("msToken", "X-Bogus", "X-Gnarly")},
}
ROTATED_TOKEN = "R" * 148
STREAMER, STREAMER_ROOM = "emu_streamer", "7390000000000000001"


def fetch_result_bytes(cursor: str = "cursor-1", push_server: str = PUSH_SERVER) -> bytes:
    result = ProtoMessageFetchResult(
        cursor=cursor, push_server=push_server, internal_ext="ext-1", is_first=True, fetch_interval=1000
    )
    result.route_params["wrss"] = "wrss-token"
    return result.SerializeToString()


def _is_cookie_page(path: str) -> bool:
    return path == "/" or (path.startswith("/@") and "/" not in path[2:])


@dataclass
class FakeTikTok:
    """mode: ok | empty | forbidden | captcha | not_live | not_found | garbled | 5xx | timeout | reset."""

    mode: str = "ok"
    verify: bool = True
    rotate_ms_token: bool = False
    bootstrap_status: int = 200
    delay_s: float = 0.0
    requests: list[UpstreamRequest] = field(default_factory=list)
    verification_failures: list[str] = field(default_factory=list)
    closed: bool = False
    _ttwids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000

    @property
    def fetches(self) -> list[UpstreamRequest]:
        return [r for r in self.requests if "/webcast/im/fetch/" in r.url]

    @property
    def bootstraps(self) -> list[UpstreamRequest]:
        return [r for r in self.requests if _is_cookie_page(urlsplit(r.url).path)]

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        path = urlsplit(request.url).path
        if _is_cookie_page(path):
            return self._front_page()
        if path == "/webcast/im/fetch/":
            return self._im_fetch(request)
        if path == "/api-live/user/room/":
            return self._api_live(request)
        if path == "/webcast/room/info/":
            return self._room_info(request)
        return UpstreamResponse(404, (), b"")

    async def aclose(self) -> None:
        self.closed = True

    def _front_page(self) -> UpstreamResponse:
        if self.bootstrap_status != 200:
            return UpstreamResponse(self.bootstrap_status, (), b"")
        ttwid = f"1%7Cttwid-{next(self._ttwids)}%7C1700000000"
        headers = (
            ("content-type", "text/html"),
            ("set-cookie", f"ttwid={ttwid}; Path=/; Domain=.tiktok.com; HttpOnly"),
            ("set-cookie", f"msToken={'M' * 148}; Path=/; Domain=.tiktok.com"),
        )
        return UpstreamResponse(200, headers, b"<html></html>")

    def _api_live(self, request: UpstreamRequest) -> UpstreamResponse:
        unique_id = parse_qs(urlsplit(request.url).query).get("uniqueId", [""])[0]
        if unique_id != STREAMER:
            document: dict[str, object] = {"statusCode": 10202, "message": "user_not_found", "data": {}}
        else:
            document = {"statusCode": 0, "message": "", "data": {"user": {"roomId": STREAMER_ROOM, "status": 2}}}
        return UpstreamResponse(200, (("content-type", "application/json"),), json.dumps(document).encode())

    def _room_info(self, request: UpstreamRequest) -> UpstreamResponse:
        """room/info, which TikTok serves unsigned: the room's state follows `mode` as im/fetch's does."""
        room_id = parse_qs(urlsplit(request.url).query).get("room_id", [""])[0]
        if self.mode == "not_found":
            document: dict[str, object] = {"status_code": 30001, "data": {"message": "room not found"}}
        else:
            status = 4 if self.mode == "not_live" else 2
            document = {"status_code": 0, "data": {"id_str": room_id, "status": status, "title": "t"}}
        return UpstreamResponse(200, (("content-type", "application/json"),), json.dumps(document).encode())

    def _im_fetch(self, request: UpstreamRequest) -> UpstreamResponse:
        if self.mode == "timeout":
            raise TransportTimeout("no answer within 2.5 s")
        if self.mode == "reset":
            raise TransportError("connection reset")
        if self.verify and self.mode == "ok":
            verdict = verify_request(request.url, "", request.headers.get("User-Agent", ""), now_ms=self.now_ms())
            if not verdict.ok:
                self.verification_failures.extend(f"{c.name}: {c.detail}" for c in verdict.failures)
                return UpstreamResponse(200, (), b"")
            if "ttwid=" not in request.headers.get("Cookie", ""):
                self.verification_failures.append("no ttwid cookie")
                return UpstreamResponse(200, (), b"")
        return self._answer(request)

    def _answer(self, request: UpstreamRequest) -> UpstreamResponse:
        room_id = parse_qs(urlsplit(request.url).query).get("room_id", [""])[0]
        json_ct = ("content-type", "application/json")
        answers: dict[str, UpstreamResponse] = {
            "empty": UpstreamResponse(200, (), b""),
            "forbidden": UpstreamResponse(403, (), b""),
            "captcha": UpstreamResponse(200, (("content-type", "text/html"),), b"<html>captcha</html>"),
            "not_live": UpstreamResponse(
                200, (json_ct,), json.dumps({"status_code": 30003, "message": "room has finished"}).encode()
            ),
            "not_found": UpstreamResponse(
                200, (json_ct,), json.dumps({"status_code": 30001, "message": "room not found"}).encode()
            ),
            "garbled": UpstreamResponse(200, (("content-type", "application/protobuf"),), b"\xff\xfe\xfd"),
            "5xx": UpstreamResponse(503, (), b"busy"),
        }
        if self.mode in answers:
            return answers[self.mode]
        headers: list[tuple[str, str]] = [("content-type", "application/protobuf")]
        if self.rotate_ms_token:
            headers.append(("x-ms-token", ROTATED_TOKEN))
        return UpstreamResponse(200, tuple(headers), fetch_result_bytes(cursor=f"cursor-{room_id}"))
