"""Observe reads the client's dialect from the raw ASGI scope, or takes the one the connect route noted after
parsing the query; both must agree with `client_info` on a Request."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request

from ttsign.api import observe
from ttsign.api.access import client_info
from ttsign.api.app import create_app
from ttsign.api.observe import dialect_of
from ttsign.config import Settings

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"


def scope_of(user_agent: str | None, query: bytes) -> dict[str, object]:
    headers = [(b"host", b"127.0.0.1")]
    if user_agent is not None:
        headers.append((b"user-agent", user_agent.encode("latin-1")))
    return {"type": "http", "method": "GET", "path": "/webcast/fetch", "query_string": query, "headers": headers}


CASES = pytest.mark.parametrize(
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


@CASES
def test_dialect_from_scope_matches_client_info(user_agent: str | None, query: bytes, family: str) -> None:
    scope = scope_of(user_agent, query)
    assert client_info(Request(scope)).family == family
    assert dialect_of(scope) == family


@CASES
async def test_the_connect_routes_noted_dialect_is_the_same(
    user_agent: str | None, query: bytes, family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The route notes the dialect itself: Observe's own reading of the scope is not asked.
    monkeypatch.setattr(observe, "dialect_of", lambda scope: "read-by-observe")
    app = create_app(Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org"))
    headers = {"user-agent": user_agent} if user_agent is not None else {}
    requests = app.state.metrics.requests
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as http:
        if user_agent is None:
            del http.headers["user-agent"]
        response = await http.get("/webcast/fetch?" + query.decode("latin-1"))
    assert response.headers["x-request-id"]
    counted = {
        sample.labels["dialect"]: sample.value
        for metric in requests.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["route"] == "/webcast/fetch"
    }
    assert counted == {family: 1.0}
