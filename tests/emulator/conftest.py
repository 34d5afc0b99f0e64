"""Run the real emulator (uvicorn on 127.0.0.1, port 0) inside the test's event loop."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

from ttsign.emulator.era import Era
from ttsign.emulator.runner import bind, public_url, serve
from ttsign.emulator.scenario import Scenario, load_scenario, parse_scenario
from ttsign.emulator.state import Emulator
from ttsign.signing import default_profile, sign_request

ROOM = "7390000000000000001"


@dataclass
class Running:
    emu: Emulator
    url: str
    http: httpx.AsyncClient

    async def log(self, kind: str | None = None) -> list[dict[str, Any]]:
        params = {"kind": kind} if kind else {}
        response = await self.http.get("/__emu/log", params=params)
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()
        return entries

    async def ttwid(self) -> str:
        response = await self.http.get("/")
        return response.cookies["ttwid"]

    def signed_fetch_url(
        self, extra: dict[str, str] | None = None, *, profile_name: str | None = None
    ) -> tuple[str, str]:
        """(path+query signed like a browser, User-Agent) for /webcast/im/fetch/ of the scenario room."""
        profile = default_profile(profile_name)
        params = {"aid": "1988", "app_name": "tiktok_web", **profile.browser_query(), "room_id": ROOM, "cursor": ""}
        params.update(extra or {})
        url = "https://webcast.tiktok.com/webcast/im/fetch/?" + urlencode(params, quote_via=quote)
        signed = sign_request(
            "GET",
            url,
            "",
            profile,
            now_ms=int(time.time() * 1000),
            rng=random.Random(7),
            ms_token=self.emu.cookies.issue_ms_token(),
        )
        return signed.url.split("webcast.tiktok.com", 1)[1], profile.user_agent


Start = Callable[..., Any]


@pytest.fixture
async def start_emulator() -> AsyncIterator[Start]:
    """start_emulator(scenario_dict_or_None, strict=True, era="2026-08") -> Running; everything stops at teardown.

    The era is named, not the CLI's default: most modules here test the signature and cookie rules of
    2026-08 (strict im/fetch, room/chat); test_era.py asks for 2026-09.
    """
    stops: list[tuple[asyncio.Event, asyncio.Task[None], httpx.AsyncClient]] = []

    async def start(
        scenario: dict[str, Any] | Scenario | None = None, *, strict: bool = True, era: Era = "2026-08"
    ) -> Running:
        if isinstance(scenario, Scenario):
            loaded = scenario
        else:
            loaded = load_scenario(None) if scenario is None else parse_scenario(scenario)
        emu = Emulator(scenario=loaded, strict=strict, era=era)
        sock = bind("127.0.0.1", 0)
        emu.plain_url = public_url("http", sock)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(emu, sock, None, stop, None))
        for _ in range(500):
            if emu.plain_url and await _is_up(emu.plain_url):
                break
            await asyncio.sleep(0.01)
        client = httpx.AsyncClient(base_url=emu.plain_url, timeout=10)
        stops.append((stop, task, client))
        return Running(emu, emu.plain_url, client)

    yield start
    for stop, task, client in stops:
        await client.aclose()
        stop.set()
        await asyncio.wait_for(task, 10)


async def _is_up(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1) as probe:
            await probe.get(url + "/__emu/state")
    except httpx.HTTPError:
        return False
    return True
