"""The direct socket address: the page's query in order, X-Gnarly over it, and the synthesized fetch result."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, quote

from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult
from ttsign.signing import default_profile
from ttsign.signing.signer import SignedRequest, SignJob, sign_job
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity import Identity
from ttsign.upstream.signer import InProcessSigner
from ttsign.upstream.socket import DirectSocket, socket_params

ROOM = "7390000000000000001"
ORDER = [
    "version_code",
    "device_platform",
    "cookie_enabled",
    "screen_width",
    "screen_height",
    "browser_language",
    "browser_platform",
    "browser_name",
    "browser_version",
    "browser_online",
    "tz_name",
    "app_name",
    "sup_ws_ds_opt",
    "update_version_code",
    "compress",
    "webcast_language",
    "aid",
    "live_id",
    "version_code",
    "app_language",
    "ws_direct",
    "client_enter",
    "room_id",
    "identity",
    "last_rtt",
    "heartbeat_duration",
    "resp_content_type",
    "did_rule",
    "device_id",
]


def identity(device_id: str = "7123456789012345678") -> Identity:
    return Identity(device_id, default_profile(), CookieJar({"ttwid": "1%7Cx%7C1"}), created_at=0.0)


def socket(sign: bool = True) -> DirectSocket:
    signer = InProcessSigner()
    return DirectSocket("wss://webcast-ws.tiktok.com/", signer=signer, sign_query=sign, rng=random.Random(3))


def test_query_follows_the_page_order_with_the_identity_values() -> None:
    params = socket_params(identity(), ROOM)
    assert [key for key, _ in params] == ORDER
    values = dict(params)
    profile = default_profile()
    assert (values["browser_version"], values["browser_platform"]) == (
        profile.browser_version,
        profile.browser_platform,
    )
    assert (values["room_id"], values["did_rule"], values["last_rtt"]) == (ROOM, "0", "-1")
    assert [v for k, v in params if k == "version_code"] == ["180800", "270000"]


def test_without_a_device_id_the_rule_is_3_and_no_device_id_is_sent() -> None:
    params = dict(socket_params(identity(device_id=""), ROOM))
    assert params["did_rule"] == "3" and "device_id" not in params


async def test_fetch_result_carries_the_socket_decoded_and_what_clients_require() -> None:
    address = await socket().address(identity(), ROOM)
    result = ProtoMessageFetchResult.FromString(address.fetch_result(now_ms=1_700_000_000_000))
    assert result.push_server == "wss://webcast-ws.tiktok.com/webcast/im/ws_proxy/ws_reuse_supplement/"
    assert "?" not in result.push_server
    assert (result.cursor, result.internal_ext, result.heartbeat_duration, result.need_ack) == ("0", "", 10000, True)
    assert not result.messages
    route = dict(result.route_params)
    assert route["browser_version"] == default_profile().browser_version  # decoded: clients encode it again
    assert route["version_code"] == "270000"  # the repeated key, last wins
    assert route["X-Gnarly"]


async def test_x_gnarly_is_a_setting() -> None:
    assert "X-Gnarly" not in dict((await socket(sign=False).address(identity(), ROOM)).params)  # type: ignore[union-attr]


async def test_x_gnarly_is_computed_over_the_query_sent() -> None:
    calls: list[str] = []

    def recording(job: SignJob, rng: random.Random) -> SignedRequest:
        calls.append(job.url)
        return sign_job(job, rng)

    socket = DirectSocket("ws://127.0.0.1:1", signer=InProcessSigner(recording), rng=random.Random(3))
    address = await socket.address(identity(), ROOM)
    unsigned = [(k, v) for k, v in address.params if k != "X-Gnarly"]
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in unsigned)
    assert calls == [f"ws://127.0.0.1:1/webcast/im/ws_proxy/ws_reuse_supplement/?{query}"]
    assert parse_qsl(query) == unsigned


def test_refused_handshakes_are_typed_refusals() -> None:
    from ttsign.upstream.refusals import RefusalCode
    from ttsign.upstream.socket_probe import classify_handshake_failure

    def code(message: str, curl_code: int | None = None) -> RefusalCode:
        return classify_handshake_failure(message, curl_code=curl_code).code

    refused = "Failed to perform, curl: (22) Refused WebSocket upgrade: {}. See https://curl.se/..."
    assert code(refused.format(415)) is RefusalCode.DEVICE_BLOCKED
    assert code(refused.format(200)) is RefusalCode.EMPTY_200
    assert code(refused.format(403)) is RefusalCode.FORBIDDEN_403
    assert code(refused.format(400)) is RefusalCode.UPSTREAM_4XX
    assert code(refused.format(502)) is RefusalCode.UPSTREAM_5XX
    assert code("curl: (28) Operation timed out", 28) is RefusalCode.TIMEOUT
    assert code("curl: (7) Failed to connect", 7) is RefusalCode.TRANSPORT_ERROR


async def test_an_address_is_signed_once_per_identity_and_room_for_its_reuse_window() -> None:
    signed: list[str] = []
    clock = [1_700_000_000_000]

    def counting(job: SignJob, rng: random.Random) -> SignedRequest:
        signed.append(job.url)
        return sign_job(job, rng)

    signer = InProcessSigner(counting)
    socket = DirectSocket("ws://h", signer=signer, now_ms=lambda: clock[0], rng=random.Random(3), reuse_s=10)
    ident = identity()
    first = await socket.address(ident, ROOM)
    assert await socket.address(ident, ROOM) is first and len(signed) == 1
    assert await socket.address(ident, "7390000000000000002") is not first  # another room: its own address
    assert await socket.address(identity(), ROOM) is not first  # another identity: its own signature
    clock[0] += 10_000
    assert await socket.address(ident, ROOM) is not first and len(signed) == 4
    assert ProtoMessageFetchResult.FromString(first.payload).now == 1_700_000_000_000
