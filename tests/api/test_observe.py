"""Observe reads the client's dialect from the raw ASGI scope; it must agree with `client_info` on a Request."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from ttsign.api.access import client_info
from ttsign.api.observe import dialect_of

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"


def scope_of(user_agent: str | None, query: bytes) -> dict[str, object]:
    headers = [(b"host", b"127.0.0.1")]
    if user_agent is not None:
        headers.append((b"user-agent", user_agent.encode("latin-1")))
    return {"type": "http", "method": "GET", "path": "/webcast/fetch", "query_string": query, "headers": headers}


@pytest.mark.parametrize(
    ("user_agent", "query", "family"),
    [
        ("TikTokLive.py/7.0.1", b"client=ttlive-python&room_id=1", "python"),
        (BROWSER, b"room_id=1&client=ttlive-python", "python"),  # TikTokLive 4.5-6.4: browser UA
        ("tiktok-live-connector/2.5.0", b"room_id=1", "node"),
        (None, b"client=ttlive-node", "node"),
        ("okhttp/4.12", b"client=ttlive-java&uuc=1", "java"),
        ("curl/8.0", b"clientx=ttlive-java&xclient=ttlive-node", "other"),  # names that only contain "client"
        ("curl/8.0", b"client=ttlive-node&client=ttlive-java", "java"),  # the last value counts, as for Request
        ("curl/8.0", b"client=ttlive%2Djava", "java"),  # percent-encoded
        (BROWSER, b"user_agent=Mozilla%2F5.0+%28X11%29&client=ttlive-python", "python"),  # other pairs encoded
        ("curl/8.0", b"cl%69ent=ttlive-java&client+=ttlive-node", "java"),  # an encoded name; "client " is not it
        ("curl/8.0", b"room_id=1&client=ttlive+node", "other"),  # '+' is a space: "ttlive node" is no client
        ("", b"", "other"),
    ],
)
def test_dialect_from_scope_matches_client_info(user_agent: str | None, query: bytes, family: str) -> None:
    scope = scope_of(user_agent, query)
    assert client_info(Request(scope)).family == family
    assert dialect_of(scope) == family
