"""Issue 12 item 8: the transport's own error text (curl's, which names the proxy) never reaches a caller.

The app runs its real curl_cffi transport through a proxy URL carrying credentials, pointed at a closed
loopback port, so every TikTok call fails inside curl with curl's own message. Every route that can fail
that way is asked, anonymously and with a key: the bodies carry a typed reason and a generic message, and
only the server log holds curl's words (credentials masked), under the request id the caller was given.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore
from ttsign.upstream.refusals import classify_transport_failure, mask_credentials

pytestmark = pytest.mark.timeout(60)

USER, PASSWORD = "alice-canary", "s3cret-canary"
PROXY_HOST = "localhost"  # named only in the proxy URL: the upstream is 127.0.0.1


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    port = closed_port()
    settings = Settings(
        upstream="http://127.0.0.1:9",
        proxy=f"http://{USER}:{PASSWORD}@{PROXY_HOST}:{port}",
        contact_email="ops@example.org",
    )
    app = create_app(settings, store=MemoryKeyStore())  # no transport given: the real curl_cffi one
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        client.headers["x-test-proxy-port"] = str(port)
        yield client


FAILING = [
    ("/webcast/fetch", {"room_id": "7"}, {"User-Agent": "TikTokLive.py/7.0.1"}),
    ("/webcast/fetch/", {"room_id": "7"}, {"User-Agent": "TikTokLive.py/6.4.0"}),
    ("/webcast/rooms/7/connect", {}, {"User-Agent": "tiktok-live-connector/2.5.0 linux"}),
    ("/webcast/room_id", {"uniqueId": "some_streamer"}, {"User-Agent": "tiktok-live-connector/2.3.0 linux"}),
    ("/webcast/anchors/some_streamer/room_id", {}, {"User-Agent": "tiktok-live-connector/2.5.0 linux"}),
]


def assert_no_transport_text(text: str, port: str) -> None:
    for leaked in (USER, PASSWORD, PROXY_HOST, f"port {port}", f":{port}", "curl", "Couldn't", "Failed to connect"):
        assert leaked not in text, (leaked, text)


async def caller_headers(http: httpx.AsyncClient, keyed: bool) -> dict[str, str]:
    if not keyed:
        return {}
    keys = http._transport.app.state.services.keys  # type: ignore[attr-defined]
    _, plaintext = await keys.create("error-text")
    return {"X-Api-Key": plaintext}


@pytest.mark.parametrize("keyed", [False, True], ids=["anonymous", "keyed"])
@pytest.mark.parametrize(("path", "params", "headers"), FAILING, ids=[p for p, _, _ in FAILING])
async def test_transport_failure_is_typed_and_generic(
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    keyed: bool,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
) -> None:
    port = http.headers["x-test-proxy-port"]
    with caplog.at_level(logging.WARNING, logger="ttsign"):
        response = await http.get(path, params=params, headers={**headers, **await caller_headers(http, keyed)})
    assert response.status_code in (502, 504), response.text
    body = response.json()
    assert body["reason"] in ("transport_error", "timeout")
    assert body["message"].startswith(("Could not reach TikTok", "TikTok did not answer in time"))
    assert_no_transport_text(response.text, port)
    assert_no_transport_text(" ".join(f"{k}: {v}" for k, v in response.headers.items()), port)
    # The operator still learns what curl said, by the request id, without the proxy's credentials.
    request_id = response.headers["x-request-id"]
    logged = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert any(PROXY_HOST in line or "127.0.0.1" in line for line in logged), caplog.text[-2000:]
    assert PASSWORD not in caplog.text and USER not in caplog.text


async def test_sign_url_still_signs_and_says_nothing_of_the_proxy(http: httpx.AsyncClient) -> None:
    url = "https://webcast.tiktok.com/webcast/gift/list/?aid=1988"
    response = await http.post("/webcast/sign_url", json={"url": url})
    assert response.status_code == 200, response.text
    assert_no_transport_text(response.text, http.headers["x-test-proxy-port"])


@pytest.mark.parametrize(
    "curl_text",
    [
        "Failed to connect to proxy.example port 3128 after 1 ms: Could not connect to server",
        f"Could not resolve proxy: {USER}:{PASSWORD}@proxy.example",
        f"Unsupported proxy syntax in 'http://{USER}:{PASSWORD}@proxy.example:3128'",
    ],
)
def test_a_transport_refusal_keeps_curls_text_out_of_its_message(curl_text: str) -> None:
    for timed_out in (False, True):
        refusal = classify_transport_failure(timed_out=timed_out, detail=curl_text)
        assert "proxy.example" not in refusal.message and "proxy.example" in refusal.log_message
        assert PASSWORD not in refusal.log_message and USER not in refusal.log_message


def test_mask_credentials_keeps_the_rest_of_the_line() -> None:
    assert mask_credentials("via socks5h://u:p@h:1080 now") == "via socks5h://***@h:1080 now"
    assert mask_credentials("no credentials here") == "no credentials here"
