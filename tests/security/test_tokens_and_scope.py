"""Replays of the token and scope attacks an outside probe found (issue 12, items 1, 3, 7, 8).

Each test plays the attacker against the whole app (ASGI, a fake TikTok behind it) and checks the
attack is refused with its typed reason, while the honest use next to it still works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.upstream.fake_chat import VALID_SESSION, ChatTikTok
from tests.upstream.fake_tiktok import STREAMER, STREAMER_ROOM
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.base import Limits
from ttsign.store.memory import MemoryKeyStore

OTHER_ROOM = "7390000000000000999"
PY7 = {"User-Agent": "TikTokLive.py/7.0.1"}
NODE = {"User-Agent": "tiktok-live-connector/2.5.0 linux"}
JAR = f"ttwid=abc; msToken=def; sessionid={VALID_SESSION}; sessionid_ss={VALID_SESSION}; tt-target-idc=useast5"


@dataclass
class Api:
    app: Any
    tiktok: ChatTikTok
    key: str

    def client(self, ip: str = "198.51.100.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://ttsign", timeout=5)


async def make_api(**overrides: Any) -> Api:
    settings = Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", chat_enabled=True, **overrides)
    tiktok = ChatTikTok()
    app = create_app(settings, transport=tiktok, store=MemoryKeyStore())
    _, key = await app.state.services.keys.create("overlay", chat_enabled=True)
    return Api(app, tiktok, key)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    yield await make_api()


async def mint(http: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await http.post("/accounts/me/jwt", json=body, headers=headers)


async def scoped_token(api: Api, http: httpx.AsyncClient, creators: list[str]) -> str:
    minted = await mint(http, {"X-Api-Key": api.key}, expireAfter=300, allowedCreators=creators)
    assert minted.status_code == 200, minted.text
    return str(minted.json()["token"])


# --- item 1: a token can mint tokens ---------------------------------------------------------------------


async def test_a_token_cannot_mint_a_wider_or_longer_token(api: Api) -> None:
    async with api.client() as http:
        small = await mint(http, {"X-Api-Key": api.key}, expireAfter=30, allowedCreators=[STREAMER])
        token = small.json()["token"]
        # The probe's replay: the token as the caller, with any string as the "key".
        for headers in ({"x-jwt-key": token, "X-Api-Key": "anything"}, {"x-jwt-key": token}):
            widened = await mint(http, headers, expireAfter=3600)
            assert widened.status_code == 401, widened.text
            assert "token" not in widened.json()
        # A real key still mints, whatever token rides along: the key is the only credential here.
        keyed = await mint(http, {"x-jwt-key": token, "X-Api-Key": api.key}, expireAfter=60)
        assert keyed.status_code == 200 and keyed.json()["key_id"] == small.json()["key_id"]


# --- item 3: creator scope is checked on the room actually served ---------------------------------------


async def test_connect_scope_follows_the_room_served_not_a_unique_id_beside_it(api: Api) -> None:
    async with api.client() as http:
        token = await scoped_token(api, http, [f"@{STREAMER}"])
        auth = {"x-jwt-key": token, **PY7}
        bypass = await http.get("/webcast/fetch", params={"room_id": OTHER_ROOM, "unique_id": STREAMER}, headers=auth)
        assert bypass.status_code == 403 and bypass.json()["reason"] == "creator_not_allowed"
        node_bypass = await http.get(
            f"/webcast/rooms/{OTHER_ROOM}/connect", params={"unique_id": STREAMER}, headers={"x-jwt-key": token, **NODE}
        )
        assert node_bypass.status_code == 403 and node_bypass.json()["reason"] == "creator_not_allowed"
        assert [f for f in api.tiktok.fetches if OTHER_ROOM in f.url] == []
        # The creator's own room, by unique id and by its room id (looked up), is served.
        by_name = await http.get("/webcast/fetch", params={"unique_id": STREAMER}, headers=auth)
        assert by_name.status_code == 200, by_name.text
        by_room = await http.get(f"/webcast/rooms/{STREAMER_ROOM}/connect", headers={"x-jwt-key": token, **NODE})
        assert by_room.status_code == 200, by_room.text


def gift_list(room: str | None) -> str:
    query = f"&room_id={room}" if room else ""
    return f"https://webcast.tiktok.com/webcast/gift/list/?aid=1988{query}&browser_name=Mozilla"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (gift_list(STREAMER_ROOM), True),
        (gift_list(OTHER_ROOM), False),
        (gift_list(None), False),
        (gift_list(STREAMER_ROOM) + f"&room_id={OTHER_ROOM}", False),
    ],
)
async def test_sign_url_signs_only_urls_for_a_room_in_scope(api: Api, url: str, allowed: bool) -> None:
    async with api.client() as http:
        token = await scoped_token(api, http, [STREAMER])
        for headers in ({"x-jwt-key": token, **NODE}, {"x-jwt-key": token, **PY7}):
            signed = await http.post("/tiktok/sign_url", json={"url": url}, headers=headers)
            body = signed.json()
            if allowed:
                assert signed.status_code == 200 and "X-Bogus=" in body["response"]["signedUrl"], signed.text
            else:
                assert body["code"] == 403 and body["reason"] == "creator_not_allowed", signed.text
                assert "signedUrl" not in signed.text
        legacy = await http.get("/webcast/sign_url", params={"url": url}, headers={"x-jwt-key": token})
        assert (legacy.json().get("code") == 403) is not allowed, legacy.text
        # An unscoped caller (the key itself) signs any room, as before.
        assert (
            await http.post("/tiktok/sign_url", json={"url": url}, headers={"X-Api-Key": api.key})
        ).status_code == 200


@pytest.mark.parametrize("form", ["body", "path"])
async def test_chat_is_scoped_to_the_room_it_is_sent_to(api: Api, form: str) -> None:
    async with api.client() as http:
        token = await scoped_token(api, http, [STREAMER_ROOM])
        headers = {"x-jwt-key": token, "x-cookie-header": JAR, **NODE}

        async def chat(room: str) -> httpx.Response:
            if form == "body":
                return await http.post("/webcast/chat", json={"roomId": room, "content": "hi"}, headers=headers)
            return await http.post(f"/webcast/rooms/{room}/chat", json={"content": "hi"}, headers=headers)

        refused = await chat(OTHER_ROOM)
        assert refused.status_code == 403 and refused.json()["reason"] == "creator_not_allowed", refused.text
        assert api.tiktok.chats == []
        sent = await chat(STREAMER_ROOM)
        assert sent.status_code == 200, sent.text
        assert api.tiktok.chats == [(STREAMER_ROOM, "hi")]


# --- item 7: guessing credentials costs the address ------------------------------------------------------


async def test_failed_credentials_block_the_address_not_others() -> None:
    api = await make_api(auth_failures_per_minute=5)
    async with api.client("203.0.113.5") as guesser, api.client("203.0.113.6") as honest:
        answers = []
        for n in range(8):
            wrong = {"X-Api-Key": f"tts_guess_{n:030d}"} if n % 2 else {"x-jwt-key": f"not.a.token{n}"}
            answers.append((await guesser.get("/webcast/fetch", params={"room_id": "1"}, headers=wrong)).status_code)
        assert answers[:5] == [401] * 5 and answers[5:] == [429] * 3
        blocked = await guesser.get("/webcast/fetch", params={"room_id": STREAMER_ROOM}, headers={"X-Api-Key": api.key})
        assert blocked.status_code == 429 and blocked.json()["reason"] == "too_many_auth_failures"
        assert int(blocked.headers["Retry-After"]) >= 1
        other = await honest.get("/webcast/fetch", params={"room_id": STREAMER_ROOM}, headers={"X-Api-Key": api.key})
        assert other.status_code == 200, other.text


@pytest.mark.parametrize("path", ["/webcast/rate_limits", "/accounts/me/rate_limits"])
async def test_rate_limit_route_is_limited_and_counts_failures(path: str) -> None:
    api = await make_api(ip_per_minute=4, auth_failures_per_minute=2)
    async with api.client() as http:
        statuses = [(await http.get(path, headers={"X-Api-Key": api.key})).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]
    async with api.client("198.51.100.99") as guesser:
        probes = [
            (await guesser.get(path, headers={"X-Api-Key": "tts_nope_" + "x" * 30})).status_code for _ in range(3)
        ]
        assert probes == [401, 401, 429]


async def test_minting_counts_against_the_key() -> None:
    api = await make_api()
    _, key = await api.app.state.services.keys.create("tight", Limits(per_minute=2))
    async with api.client() as http:
        statuses = [(await mint(http, {"X-Api-Key": key})).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


# --- item 8: the anonymous distinct-room cap also holds for unique ids ----------------------------------


async def test_anonymous_room_cap_counts_unique_id_connects() -> None:
    api = await make_api(anonymous_rooms_per_hour=2)
    async with api.client() as http:
        for name in (STREAMER, "someone_else"):
            answer = await http.get("/webcast/fetch", params={"unique_id": name}, headers=PY7)
            assert answer.status_code != 429, answer.text
        capped = await http.get("/webcast/fetch", params={"unique_id": "third_one"}, headers=PY7)
        assert capped.status_code == 429 and capped.json()["limit_label"] == "rooms", capped.text
        again = await http.get("/webcast/fetch", params={"unique_id": STREAMER}, headers=PY7)
        assert again.status_code == 200, again.text  # a room already counted is not a new one
