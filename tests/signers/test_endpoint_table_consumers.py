"""Each request ttsign sends TikTok itself reads one table through SignerEnvironment.signatures_for: the signer
environment's, with TTSIGN_SIGNATURES_BY_ENDPOINT overriding entries explicitly (Settings.endpoint_overrides)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.upstream.fake_chat import VALID_SESSION, ChatTikTok
from tests.upstream.fake_tiktok import FETCH_PATH, STREAMER_ROOM, FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult
from ttsign.store.memory import MemoryKeyStore

ALL = {"msToken", "X-Bogus", "X-Gnarly"}
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@asynccontextmanager
async def _api(tiktok: FakeTikTok, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", **settings),  # type: ignore[arg-type]
        transport=tiktok,
        store=MemoryKeyStore(),
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign") as http:
        http.headers["X-Api-Key"] = (await app.state.services.keys.create("t", chat_enabled=True))[1]
        yield http


def _signatures(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query, keep_blank_values=True)) & ALL


async def _fetch_signatures(**settings: object) -> set[str]:
    tiktok = FakeTikTok()
    async with _api(tiktok, **settings) as http:
        # The fake TikTok may refuse what it receives; what matters here is what was sent.
        await http.get("/webcast/fetch", params={"room_id": STREAMER_ROOM, "user_agent": CHROME_UA})
    return _signatures(tiktok.fetches[0].url)


async def test_im_fetch_default_is_unsigned_and_the_fetch_path_override_signs_all_three() -> None:
    assert await _fetch_signatures(connect_strategies=("fetch",)) == set()
    assert await _fetch_signatures(**FETCH_PATH) == ALL


async def test_im_fetch_without_an_override_takes_the_environments_entry() -> None:
    # xbogus-1.0.0.368's table: msToken and X-Bogus everywhere; no override of im/fetch.
    signed = await _fetch_signatures(
        connect_strategies=("fetch",), signatures_by_endpoint={}, signer_env="xbogus-1.0.0.368"
    )
    assert signed == {"msToken", "X-Bogus"}


async def _socket_params(**settings: object) -> dict[str, str]:
    async with _api(FakeTikTok(), **settings) as http:
        response = await http.get("/webcast/fetch", params={"room_id": STREAMER_ROOM, "user_agent": CHROME_UA})
    assert response.status_code == 200, response.text
    assert response.headers["x-ttsign-strategy"] == "direct"
    return dict(ProtoMessageFetchResult.FromString(response.content).route_params)


async def test_socket_query_reads_the_table() -> None:
    assert "X-Gnarly" in await _socket_params()
    assert "X-Gnarly" not in await _socket_params(signatures_by_endpoint={"im_fetch": [], "socket": []})
    # An environment whose table has no X-Gnarly signs no socket query (it used to fail looking one up).
    assert "X-Gnarly" not in await _socket_params(signer_env="xbogus-1.0.0.368")
    assert "X-Gnarly" in await _socket_params(
        signer_env="xbogus-1.0.0.368", signatures_by_endpoint={"socket": ["X-Gnarly"]}
    )


async def _chat_signatures(**settings: object) -> set[str]:
    tiktok = ChatTikTok()
    async with _api(tiktok, chat_enabled=True, **settings) as http:
        body = {"roomId": STREAMER_ROOM, "content": "hi", "sessionId": VALID_SESSION, "ttTargetIdc": "useast5"}
        await http.post("/webcast/chat", json=body, headers={"User-Agent": "TikTokLive.py/6.6.5"})
    (request,) = tiktok.chat_requests
    return _signatures(request.url)


async def test_room_chat_reads_the_table() -> None:
    assert await _chat_signatures() == ALL
    assert await _chat_signatures(signer_env="xbogus-1.0.0.368") == {"msToken", "X-Bogus"}
    assert await _chat_signatures(signer_env="xbogus-1.0.0.368", signatures_by_endpoint={"room_chat": list(ALL)}) == ALL


async def test_sign_url_keeps_the_environments_table_whatever_the_overrides() -> None:
    url = f"https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id={STREAMER_ROOM}"
    async with _api(FakeTikTok(), signatures_by_endpoint={"im_fetch": []}, legacy_fetch_through_ttsign=False) as http:
        response = await http.post("/webcast/sign_url", json={"url": url, "userAgent": CHROME_UA})
    assert response.status_code == 200, response.text
    assert _signatures(response.json()["response"]["signedUrl"]) == ALL
