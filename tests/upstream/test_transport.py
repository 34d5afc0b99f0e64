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


async def test_reused_handles_carry_nothing_from_the_previous_request() -> None:
    transport = CurlTransport(TransportOptions(max_connections=1))  # one handle: every request reuses it
    try:
        async with LoopbackServer(ok) as server:
            await transport.send(UpstreamRequest("GET", f"{server.url}/a", {"Cookie": "ttwid=x", "X-Bogus": "b"}))
            await transport.send(UpstreamRequest("POST", f"{server.url}/b", {"Content-Type": "text/plain"}))
            await transport.send(UpstreamRequest("GET", f"{server.url}/c", {}))
            await transport.send(UpstreamRequest("GET", f"{server.url}/d", {}, "chrome131"))
            await transport.send(UpstreamRequest("GET", f"{server.url}/e", {}))
    finally:
        await transport.aclose()
    a, b, c, d, e = server.seen
    assert (a.method, b.method, c.method) == ("GET", "POST", "GET")
    assert b.header("Content-Length") == "0" and b.header("Cookie") is None
    assert c.header("Cookie") is None and c.header("X-Bogus") is None and c.header("Content-Type") is None
    # A browser's own headers come with its impersonation and only with it.
    assert d.header("sec-ch-ua") is not None
    assert e.header("sec-ch-ua") is None and c.header("sec-ch-ua") is None


async def test_a_kept_header_list_is_sent_once_and_replaced_when_it_changes() -> None:
    def echo(seen: SeenRequest) -> Reply:
        return Reply(headers=[("X-Path", seen.target)], body=seen.target.encode())

    transport = CurlTransport(TransportOptions(max_connections=1))  # one handle: every request reuses it
    same = {"Cookie": "ttwid=one", "Referer": "https://www.tiktok.com/"}
    try:
        async with LoopbackServer(echo) as server:
            answers = [
                await transport.send(UpstreamRequest("GET", f"{server.url}/{n}", headers))
                for n, headers in enumerate([same, same, {**same, "Cookie": "ttwid=two"}, same])
            ]
    finally:
        await transport.aclose()
    # Each answer is its own request's, with nothing left over from the one before on the same handle.
    assert [a.body for a in answers] == [b"/0", b"/1", b"/2", b"/3"]
    assert [a.header("x-path") for a in answers] == ["/0", "/1", "/2", "/3"]
    for seen, cookie in zip(server.seen, ["ttwid=one", "ttwid=one", "ttwid=two", "ttwid=one"], strict=True):
        assert [v for k, v in seen.headers if k.lower() == "cookie"] == [cookie]
        assert [k for k, _ in seen.headers if k.lower() == "referer"] == ["Referer"]


async def test_every_profile_target_can_be_impersonated() -> None:
    from ttsign.signing.profile import _TARGETS

    targets = sorted({target for table in _TARGETS.values() for _, target in table})
    transport = CurlTransport()
    try:
        async with LoopbackServer(ok) as server:
            for target in targets:
                response = await transport.send(UpstreamRequest("GET", f"{server.url}/{target}", {}, target))
                assert response.status == 200, target
    finally:
        await transport.aclose()
    assert len(server.seen) == len(targets)


async def test_a_cancelled_request_leaves_the_transport_usable() -> None:
    transport = CurlTransport(TransportOptions(max_connections=1))

    def slow_then_fast(seen: SeenRequest) -> Reply:
        return Reply(body=b"late", delay_s=2) if seen.target == "/slow" else Reply(body=b"ok")

    try:
        async with LoopbackServer(slow_then_fast) as server:
            pending = asyncio.create_task(transport.send(UpstreamRequest("GET", f"{server.url}/slow", {})))
            await asyncio.sleep(0.2)
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            started = time.monotonic()
            response = await transport.send(UpstreamRequest("GET", f"{server.url}/fast", {}))
            elapsed = time.monotonic() - started
    finally:
        await transport.aclose()
    assert response.body == b"ok"
    assert elapsed < 1.0  # the slot and the handle were given back at once


def test_only_the_final_header_block_counts() -> None:
    raw = (
        b"HTTP/1.1 200 Connection established\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 403 Forbidden\r\nSet-Cookie: a=1\r\nX-Long: one\r\n  two\r\nSet-Cookie: b=2\r\n\r\n"
    )
    from ttsign.upstream.transport import _last_header_block

    assert _last_header_block(raw) == (("set-cookie", "a=1"), ("x-long", "one two"), ("set-cookie", "b=2"))


async def test_requests_go_through_the_configured_proxy() -> None:
    async with LoopbackServer(ok) as proxy:
        transport = CurlTransport(TransportOptions(proxy=proxy.url))
        try:
            # Plain-http targets are forwarded by the proxy (no CONNECT): it sees the absolute URL.
            response = await transport.send(UpstreamRequest("GET", "http://webcast.tiktok.invalid/x?a=1", {}))
        finally:
            await transport.aclose()
    assert response.status == 200
    assert proxy.seen[0].target == "http://webcast.tiktok.invalid/x?a=1"
