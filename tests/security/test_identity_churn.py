"""A caller rotating browser User-Agents cannot make ttsign bootstrap (and evict) identity after identity
(issue 12 item 8): past its budget of new identities it is served, as the default browser."""

from __future__ import annotations

import httpx

from tests.upstream.fake_tiktok import FETCH_PATH, STREAMER_ROOM, FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.signing import default_profile
from ttsign.store.memory import MemoryKeyStore


def chrome(version: int) -> str:
    return (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 "
        "Safari/537.36"
    )


async def test_rotating_user_agents_spend_the_callers_new_identity_budget() -> None:
    tiktok = FakeTikTok()
    settings = Settings(upstream="http://127.0.0.1:9", new_identities_per_caller_per_minute=2, **FETCH_PATH)  # type: ignore[arg-type]
    app = create_app(settings, transport=tiktok, store=MemoryKeyStore())
    _, churner = await app.state.services.keys.create("churner")
    _, honest = await app.state.services.keys.create("honest")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ttsign", timeout=5) as http:

        async def connect(key: str, ua: str) -> httpx.Response:
            params = {"room_id": STREAMER_ROOM, "client": "ttlive-python", "user_agent": ua}
            return await http.get("/webcast/fetch", params=params, headers={"X-Api-Key": key})

        for version in range(120, 128):
            answer = await connect(churner, chrome(version))
            assert answer.status_code == 200, answer.text  # served every time, never refused
        fetched_as = [request.headers["User-Agent"] for request in tiktok.fetches]
        assert fetched_as[:2] == [chrome(120), chrome(121)]
        assert fetched_as[2:] == [default_profile().user_agent] * 6
        bootstrapped = {request.headers["User-Agent"] for request in tiktok.bootstraps}
        assert bootstrapped == {chrome(120), chrome(121), default_profile().user_agent}
        # Another caller's new browser is its own budget; the churner's held browsers stay honoured.
        assert (await connect(honest, chrome(130))).status_code == 200
        assert (await connect(churner, chrome(121))).status_code == 200
        assert [request.headers["User-Agent"] for request in tiktok.fetches[-2:]] == [chrome(130), chrome(121)]
