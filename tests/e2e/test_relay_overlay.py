"""Issue 14 item 5 (and item 3 end to end): the chat overlay page in a real headless Chromium (Debian's, driven
by Playwright), served by a real `ttsign serve` whose relay reads a real `ttsign emulate` room.

The page is loaded as an OBS browser source would load it (`/overlay/chat?uniqueId=...&key=...`), over the
WebSocket and over server-sent events; every request the page makes must stay on the server. The scenario's
chat lines and gifts (a three-step streak shown as one line that counts up) appear in order, with the
viewer and like counts; a screenshot of each run lands in tests/artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.harness import ROOT, EmulatorHandle, Proc, serve_argv, start_emulator, stop_cleanly, ttsign_keys
from tests.e2e.session_log import wait_for_log

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHROMIUM = Path(os.environ.get("TTSIGN_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "artifacts"
SCENARIO: dict[str, Any] = yaml.safe_load((ROOT / "src/ttsign/emulator/scenarios/default.yaml").read_text())
ROSE = {"id": 5655, "name": "Rose", "diamond_count": 1, "type": 1}
LION = {"id": 6000, "name": "Lion", "diamond_count": 500, "type": 2}  # not streakable
TIMELINE: list[dict[str, Any]] = [
    {"id": 11, "type": "chat", "user": "u1", "content": "hello from the emulator"},
    {"id": 12, "type": "gift", "user": "u2", "gift": ROSE, "repeat_count": 1, "repeat_end": False},
    {"id": 13, "type": "gift", "user": "u2", "gift": ROSE, "repeat_count": 2, "repeat_end": False},
    {"id": 14, "type": "gift", "user": "u2", "gift": ROSE, "repeat_count": 3, "repeat_end": True},
    {"id": 15, "type": "like", "user": "u1", "count": 15, "total": 1234},
    {"id": 16, "type": "member", "user": "u2", "action": "joined", "member_count": 77},
    {"id": 17, "type": "room_user_seq", "total": 321, "total_user": 4567},
    {"id": 18, "type": "chat", "user": "u2", "content": "<b>second</b> line"},
    {"id": 19, "type": "gift", "user": "u1", "gift": LION, "repeat_count": 1, "repeat_end": True},
    {"id": 99, "type": "control", "action": "stream_ended"},
]
# What the feed must show, top to bottom: (class, nickname, text, gift count).
EXPECTED = [
    ("chat", "Viewer 1", "hello from the emulator", None),
    ("gift", "Viewer 2", "sent Rose", "3"),
    ("like", "Viewer 1", "liked x15", None),
    ("join", "Viewer 2", "joined", None),
    ("chat", "Viewer 2", "<b>second</b> line", None),  # text, never markup
    ("gift", "Viewer 1", "sent Lion", "1"),
    ("control", None, "The stream ended", None),
]

_FEED = """() => Array.from(document.querySelectorAll('#feed li')).map(li => [
    li.className.split(' ')[0],
    li.querySelector('.nick') ? li.querySelector('.nick').textContent : null,
    li.querySelector('.text').textContent,
    li.dataset.count || null,
])"""


@pytest.fixture(scope="module", autouse=True)
def chromium_installed() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make chromium`")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator({**SCENARIO, "timeline": []}, strict=True, tls=False)  # step mode: the test pushes
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    env = {"TTSIGN_STORE_PATH": str(tmp_path_factory.mktemp("overlay") / "ttsign.sqlite3")}
    key = str(ttsign_keys(env, "create", "--name", "overlay")["api_key"])
    proc = Proc(serve_argv(emu.url), name="server", env={**env, "TTSIGN_RELAY_GRACE_S": "0.2"}).start()
    ready = proc.wait_ready()
    yield str(ready["url"]), key
    stderr = stop_cleanly(proc)
    assert "Traceback" not in stderr
    assert key not in stderr  # the page's URL carries the key; the server's log never does


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle) -> None:
    httpx.post(f"{emu.url}/__emu/scenario", json={**SCENARIO, "timeline": []}, timeout=10).raise_for_status()
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_the_overlay_shows_chat_and_gifts_in_order(
    emu: EmulatorHandle, server: tuple[str, str], transport: str
) -> None:
    from playwright.sync_api import Route, sync_playwright

    url, key = server
    refused: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith((f"{url}/", url.replace("http://", "ws://") + "/")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"overlay-chat-{transport}.png"
    screenshot.unlink(missing_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 480, "height": 640})
            page.route("**/*", only_the_server)
            page.goto(f"{url}/overlay/chat?uniqueId=emu_streamer&key={key}&transport={transport}", wait_until="load")
            page.wait_for_selector("#status.live", timeout=20_000)  # roomInfo arrived: the room is open
            wait_for_log(emu, lambda log: any(e["kind"] == "timeline_start" for e in log))
            emu.push(TIMELINE)
            page.wait_for_selector("#feed li.control", timeout=20_000)
            page.wait_for_selector("#status.ended", timeout=10_000)  # 4005: the page stops, no reconnect
            feed = [tuple(item) for item in page.evaluate(_FEED)]
            viewers, likes = page.inner_text("#viewers"), page.inner_text("#likes")
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            page.screenshot(path=str(screenshot), full_page=True, omit_background=True)
        finally:
            browser.close()
    assert feed == EXPECTED
    assert (viewers, likes) == ("321", "1234")
    assert background == "rgba(0, 0, 0, 0)"  # transparent for OBS
    assert refused == [], f"the page asked for other hosts: {refused}"
    assert screenshot.stat().st_size > 5_000


def test_the_overlay_says_why_when_the_key_is_wrong(server: tuple[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{url}/overlay/chat?uniqueId=emu_streamer&key=tts_00000000_wrong", wait_until="load")
            page.wait_for_selector("#status.error", timeout=20_000)
            status = page.inner_text("#status")
        finally:
            browser.close()
    assert status == "invalid key"  # 4401: the page stops instead of retrying a key that cannot work
