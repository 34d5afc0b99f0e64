"""The relay's endpoints in-process (api/relay/): /ws (and /), /events and the overlay page, over a
scripted upstream. Every refusal is checked for its Euler close code (or HTTP status) and its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.relay.fakes import FakeLink, FakeUpstream, chat, control, viewers
from ttsign.api.app import create_app
from ttsign.api.relay import RelayMetrics
from ttsign.api.relay.admit import caps_of
from ttsign.config import Settings
from ttsign.relay import CloseCode, Relay, SessionPolicy
from ttsign.relay.frames import decode_frame
from ttsign.relay.upstream import OpenFailure
from ttsign.service.admission import Caller
from ttsign.service.jwt_auth import JwtGrant
from ttsign.store.memory import MemoryKeyStore

pytestmark = pytest.mark.timeout(30)


@dataclass
class Api:
    client: TestClient
    upstream: FakeUpstream
    key: str
    key_id: str

    def token(self, **grant: Any) -> str:
        authority = self.client.portal.call(self.client.app.state.services.admission.jwt_authority)  # type: ignore[union-attr,attr-defined]
        token, _ = authority.issue(self.key_id, **grant)
        return str(token)


def api_with(*outcomes: FakeLink | OpenFailure, **settings: Any) -> Iterator[Api]:
    app = create_app(Settings(upstream="http://127.0.0.1:9", **settings), store=MemoryKeyStore())
    upstream = FakeUpstream(*outcomes)
    policy = SessionPolicy(queue_size=16, grace_s=0.05, reconnect_attempts=0)
    app.state.relay = Relay(upstream, policy, observer=RelayMetrics(app.state.metrics))
    with TestClient(app) as client:
        record, key = client.portal.call(app.state.services.keys.create, "overlay")
        yield Api(client, upstream, key, record.key_id)


def ended_link() -> FakeLink:
    """A room whose socket brings the viewer count, two chat lines, then the stream's end."""
    link = FakeLink(initial=(viewers(1, 100),))
    link.push(chat(11, "hello"))
    link.push(chat(12, "world"), control(99, 3))
    return link


@pytest.fixture
def api() -> Iterator[Api]:
    yield from api_with(ended_link())


def receive_until_close(ws: Any) -> tuple[list[Any], int, str]:
    frames: list[Any] = []
    while True:
        message = ws.receive()
        if message["type"] == "websocket.close":
            return frames, message["code"], message.get("reason", "")
        frames.append(json.loads(message["text"]) if message.get("text") is not None else message["bytes"])


def close_of(api: Api, path: str) -> tuple[int, str]:
    with api.client.websocket_connect(path) as ws:
        _, code, reason = receive_until_close(ws)
    return code, reason


def types(frames: list[dict[str, Any]]) -> list[str]:
    return [m["type"] for frame in frames for m in frame["messages"]]


@pytest.mark.parametrize("path", ["/ws", "/"])
def test_a_consumer_gets_worker_and_room_info_then_the_events_then_4005(api: Api, path: str) -> None:
    with api.client.websocket_connect(f"{path}?uniqueId=emu&apiKey={api.key}") as ws:
        frames, code, reason = receive_until_close(ws)
    assert types(frames) == [
        "workerInfo",
        "roomInfo",
        "WebcastRoomUserSeqMessage",
        "WebcastChatMessage",
        "WebcastChatMessage",
        "WebcastControlMessage",
    ]
    worker = frames[0]["messages"][0]["data"]
    assert worker["schemaVersion"] == "v2" and worker["features"]["bundleEvents"] is True
    assert frames[1]["messages"][0]["data"] == {"roomId": "7390", "uniqueId": "emu", "isLive": True}
    assert [m["data"]["comment"] for f in frames for m in f["messages"] if m["type"] == "WebcastChatMessage"] == [
        "hello",
        "world",
    ]
    assert all(isinstance(frame["timestamp"], int) for frame in frames)
    assert (code, reason) == (4005, "TikTok stream ended")


def test_unbundled_events_come_one_per_frame(api: Api) -> None:
    with api.client.websocket_connect("/ws?uniqueId=emu&features.bundleEvents=false") as ws:
        frames, code, _ = receive_until_close(ws)
    assert [len(frame["messages"]) for frame in frames[3:]] == [1, 1, 1]
    assert code == CloseCode.STREAM_END


def test_raw_messages_are_the_upstream_frames_in_binary(api: Api) -> None:
    with api.client.websocket_connect("/ws?uniqueId=emu&features.rawMessages=true") as ws:
        frames, code, _ = receive_until_close(ws)
    assert [f["messages"][0]["type"] for f in frames[:2]] == ["workerInfo", "roomInfo"]
    assert (
        frames[2]["messages"][0]["type"] == "WebcastRoomUserSeqMessage"
    )  # the first fetch's messages: no frame, so JSON
    raw = [decode_frame(frame) for frame in frames[3:]]  # the upstream's frames, one binary message each
    assert [[m.msg_id for m in batch.messages] for batch in raw] == [[11], [12, 99]]  # type: ignore[union-attr]
    assert code == CloseCode.STREAM_END


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("uniqueId=emu&features.bogus=1", "unknown option features.bogus"),
        ("uniqueId=", "uniqueId must be"),
        ("uniqueId=emu&features.closeInactiveWebSocketAfter=1", "30 to 3600"),
    ],
)
def test_bad_options_close_4400_with_the_reason(api: Api, query: str, fragment: str) -> None:
    code, reason = close_of(api, f"/ws?{query}")
    assert code == CloseCode.INVALID_OPTIONS
    assert reason.startswith("Invalid options provided: ") and fragment in reason
    assert api.upstream.opens == 0


@pytest.mark.parametrize("credential", ["apiKey=not-a-key", "jwtKey=not.a.token"])
def test_bad_credentials_close_4401(api: Api, credential: str) -> None:
    code, reason = close_of(api, f"/ws?uniqueId=emu&{credential}")
    assert code == CloseCode.INVALID_AUTH
    assert "not-a-key" not in reason and "not.a.token" not in reason
    assert api.upstream.opens == 0


def test_a_token_scoped_to_other_creators_closes_4403(api: Api) -> None:
    token = api.token(allowed_creators=["someone_else"])
    assert close_of(api, f"/ws?uniqueId=emu&jwtKey={token}")[0] == CloseCode.NO_PERMISSION
    allowed = api.token(allowed_creators=["emu"])
    assert close_of(api, f"/ws?uniqueId=emu&jwtKey={allowed}")[0] == CloseCode.STREAM_END


def test_a_room_that_is_not_live_closes_4404() -> None:
    for api in api_with(OpenFailure(CloseCode.NOT_LIVE, "room_not_live")):
        code, reason = close_of(api, "/ws?uniqueId=emu")
        assert (code, reason) == (4404, "Streamer is not live: room_not_live")


def test_upstream_errors_close_4556() -> None:
    for api in api_with(OpenFailure(CloseCode.WEBCAST_FETCH_ERROR, "device_blocked")):
        assert close_of(api, "/ws?uniqueId=emu")[0] == 4556


def test_tiktok_closing_the_socket_closes_4500_when_it_cannot_be_reopened() -> None:
    link = FakeLink()
    link.push(chat(11, "hello"))
    link.drop()
    for api in api_with(link):
        with api.client.websocket_connect("/ws?uniqueId=emu") as ws:
            frames, code, _ = receive_until_close(ws)
        assert types(frames)[-1] == "WebcastChatMessage"
        assert code == CloseCode.TIKTOK_CLOSED_CONNECTION


def test_sockets_per_key_are_capped_while_open() -> None:
    for api in api_with(FakeLink(), relay_max_sockets_per_key=1):
        path = f"/ws?uniqueId=emu&apiKey={api.key}"
        with api.client.websocket_connect(path) as first:
            assert first.receive_json()["messages"][0]["type"] == "workerInfo"
            assert close_of(api, path)[0] == CloseCode.TOO_MANY_CONNECTIONS
        # The first socket closed: its place is free again.
        with api.client.websocket_connect(path) as again:
            assert again.receive_json()["messages"][0]["type"] == "workerInfo"


def test_max_web_sockets_counts_open_sockets_not_connects() -> None:
    for api in api_with(FakeLink()):
        path = f"/ws?uniqueId=emu&jwtKey={api.token(max_connections=1)}"
        for _ in range(3):  # one at a time, as often as wanted
            with api.client.websocket_connect(path) as ws:
                assert ws.receive_json()["messages"][0]["type"] == "workerInfo"
                assert close_of(api, path)[0] == CloseCode.TOO_MANY_CONNECTIONS  # but never two at once


def test_caps_of_names_the_key_and_the_token() -> None:
    grant = JwtGrant("k1", "t1", 0, None, 2)
    assert caps_of(Caller("1.2.3.4", grant=grant), 10) == [("anon:1.2.3.4", 10), ("jwt:t1", 2)]
    assert caps_of(Caller("1.2.3.4"), 10) == [("anon:1.2.3.4", 10)]


def test_the_relay_can_be_switched_off() -> None:
    for api in api_with(relay_enabled=False):
        with pytest.raises(WebSocketDisconnect), api.client.websocket_connect("/ws?uniqueId=emu") as ws:
            ws.receive()
        assert api.client.get("/events?uniqueId=emu").status_code == 404


# --- server-sent events ------------------------------------------------------------------------------------


def sse_bundles(text: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    bundles, closing = [], None
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            bundles.append(json.loads(block.removeprefix("data: ")))
        elif block.startswith("event: close\ndata: "):
            closing = json.loads(block.split("data: ", 1)[1])
    return bundles, closing


def test_events_stream_the_same_json_and_end_with_the_close_code(api: Api) -> None:
    response = api.client.get(f"/events?uniqueId=emu&apiKey={api.key}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    bundles, closing = sse_bundles(response.text)
    assert types(bundles)[:3] == ["workerInfo", "roomInfo", "WebcastRoomUserSeqMessage"]
    assert types(bundles)[3:] == ["WebcastChatMessage", "WebcastChatMessage", "WebcastControlMessage"]
    assert closing == {"code": 4005, "reason": "TikTok stream ended"}


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("uniqueId=emu&features.nope=1", 400, "invalid_options"),
        ("uniqueId=emu&features.rawMessages=true", 400, "invalid_options"),
        ("uniqueId=emu&apiKey=wrong", 401, "invalid_api_key"),
    ],
)
def test_events_refusals_are_json_errors(api: Api, query: str, status: int, reason: str) -> None:
    response = api.client.get(f"/events?{query}")
    assert response.status_code == status
    body = response.json()
    assert (body["code"], body["reason"]) == (status, reason)
    assert body["message"] and body["request_id"]


def test_events_for_a_room_that_is_not_live_is_a_404() -> None:
    for api in api_with(OpenFailure(CloseCode.NOT_LIVE, "room_not_live")):
        response = api.client.get("/events?uniqueId=emu")
        assert (response.status_code, response.json()["reason"]) == (404, "room_not_live")


# --- the overlay page ----------------------------------------------------------------------------------------


def test_the_overlay_page_and_assets_are_served_without_a_referrer(api: Api) -> None:
    page = api.client.get("/overlay/chat?uniqueId=emu&key=secret-key")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "secret-key" not in page.text  # the key stays in the URL for the script; never echoed
    assert "/overlay/assets/overlay.js" in page.text
    for name, kind in (("overlay.js", "text/javascript"), ("overlay.css", "text/css")):
        asset = api.client.get(f"/overlay/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
    missing = api.client.get("/overlay/assets/..%2Fapp.py")
    assert missing.status_code == 404 and missing.json()["reason"] == "not_found"


def sample(api: Api, name: str) -> float:
    for line in api.client.get("/metrics").text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_rooms_consumers_and_sockets() -> None:
    link = FakeLink()
    link.push(chat(11, "hello"))
    for api in api_with(link):
        with api.client.websocket_connect("/ws?uniqueId=emu") as ws:
            assert ws.receive_json()["messages"][0]["type"] == "workerInfo"
            assert (sample(api, "ttsign_relay_rooms"), sample(api, "ttsign_relay_consumers")) == (1.0, 1.0)
        assert sample(api, "ttsign_relay_upstream_sockets_total") == 1.0
        for _ in range(100):  # the server notices the close a moment after the client sent it
            if sample(api, "ttsign_relay_consumers") == 0.0:
                break
        assert sample(api, "ttsign_relay_consumers") == 0.0


def test_metrics_count_the_closes_the_relay_decided(api: Api) -> None:
    assert close_of(api, "/ws?uniqueId=emu")[0] == 4005
    for _ in range(100):
        if sample(api, 'ttsign_relay_consumer_closes_total{code="4005"}') == 1.0:
            break
    assert sample(api, 'ttsign_relay_consumer_closes_total{code="4005"}') == 1.0
