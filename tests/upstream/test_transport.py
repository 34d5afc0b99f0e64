"""The curl_cffi transport over a real loopback socket."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from ttsign.upstream.transport import (
    BodyTooLarge,
    CurlTransport,
    TransportError,
    TransportOptions,
    TransportTimeout,
    UpstreamRequest,
)

from .loopback import LoopbackServer, Reply, SeenRequest

pytestmark = pytest.mark.timeout(30)


def ok(_: SeenRequest) -> Reply:
    return Reply(
        200,
        [
            ("Set-Cookie", "ttwid=T1; Path=/; Domain=.tiktok.com"),
            ("Set-Cookie", "msToken=M1; Path=/"),
            ("X-Ms-Token", "R"),
        ],
        b"\x00\x01binary",
    )


async def test_status_headers_and_body_come_back_raw() -> None:
    transport = CurlTransport()
    try:
        async with LoopbackServer(ok) as server:
            response = await transport.send(UpstreamRequest("GET", f"{server.url}/x", {"User-Agent": "UA/1"}))
    finally:
        await transport.aclose()
    assert response.status == 200
    assert response.body == b"\x00\x01binary"
    assert response.header_list("set-cookie") == ["ttwid=T1; Path=/; Domain=.tiktok.com", "msToken=M1; Path=/"]
    assert response.header("x-ms-token") == "R"
    assert server.seen[0].header("User-Agent") == "UA/1"


async def test_url_is_sent_byte_for_byte_and_no_cookie_jar_is_kept() -> None:
    transport = CurlTransport()
    # Characters a re-quoting client would normalise: %7E (~), %2F, '=' inside values, '+' in a token.
    target = "/webcast/im/fetch/?a=%7E&b=%2F&X-Bogus=DFSz+a=b&contact_us=op%40example.org&cursor="
    try:
        async with LoopbackServer(ok) as server:
            await transport.send(UpstreamRequest("GET", server.url + target, {}))
            await transport.send(UpstreamRequest("GET", server.url + target, {"Cookie": "ttwid=mine"}))
    finally:
        await transport.aclose()
    assert [seen.target for seen in server.seen] == [target, target]
    # The first answer set cookies; the transport must not replay them on its own.
    assert server.seen[0].header("Cookie") is None
    assert server.seen[1].header("Cookie") == "ttwid=mine"


async def test_impersonation_keeps_our_user_agent() -> None:
    transport = CurlTransport()
    ua = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    try:
        async with LoopbackServer(ok) as server:
            await transport.send(UpstreamRequest("GET", f"{server.url}/", {"User-Agent": ua}, "chrome131"))
    finally:
        await transport.aclose()
    assert [v for k, v in server.seen[0].headers if k.lower() == "user-agent"] == [ua]


async def test_slow_upstream_times_out_within_budget() -> None:
    transport = CurlTransport(TransportOptions(connect_timeout_s=0.2, total_timeout_s=0.4))
    try:
        async with LoopbackServer(lambda _: Reply(delay_s=3)) as server:
            started = time.monotonic()
            with pytest.raises(TransportTimeout):
                await transport.send(UpstreamRequest("GET", f"{server.url}/", {}))
            elapsed = time.monotonic() - started
    finally:
        await transport.aclose()
    assert 0.3 < elapsed < 1.5


async def test_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = CurlTransport()
    try:
        with pytest.raises(TransportError) as info:
            await transport.send(UpstreamRequest("GET", f"http://127.0.0.1:{port}/?msToken=secret", {}))
    finally:
        await transport.aclose()
    assert not isinstance(info.value, TransportTimeout)
    assert "secret" not in str(info.value)


async def test_reset_connection_is_a_transport_error() -> None:
    transport = CurlTransport()
    try:
        async with LoopbackServer(lambda _: Reply(reset=True)) as server:
            with pytest.raises(TransportError):
                await transport.send(UpstreamRequest("GET", f"{server.url}/", {}))
    finally:
        await transport.aclose()


async def test_oversized_body_is_refused() -> None:
    transport = CurlTransport(TransportOptions(max_body_bytes=1024))
    try:
        async with LoopbackServer(lambda _: Reply(body=b"x" * 2048)) as server:
            with pytest.raises(BodyTooLarge):
                await transport.send(UpstreamRequest("GET", f"{server.url}/", {}))
    finally:
        await transport.aclose()


async def test_concurrent_requests_share_one_session() -> None:
    transport = CurlTransport(TransportOptions(max_connections=8))
    try:
        async with LoopbackServer(lambda _: Reply(body=b"ok", delay_s=0.05)) as server:
            started = time.monotonic()
            results = await asyncio.gather(
                *(transport.send(UpstreamRequest("GET", f"{server.url}/{i}", {})) for i in range(16))
            )
            elapsed = time.monotonic() - started
    finally:
        await transport.aclose()
    assert all(r.body == b"ok" for r in results)
    assert elapsed < 0.05 * 16 / 2  # ran in parallel, not one after another
