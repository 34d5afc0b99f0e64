"""Issue 15 item 3: the operator console in a real browser, against a real `ttsign serve` and `ttsign emulate`.

Debian's headless Chromium (`make chromium`), driven by Playwright, logs in to /admin, creates a key, watches the
real TikTokLive client connect with it (through ttsign, to the emulator), sees the key's usage chart move,
revokes the key and sees the same client refused. A page of another site, and one of the same site on another
port (which does get the SameSite=Strict cookie), try to create a key through the logged-in browser and are
refused. Screenshots of each step land in tests/artifacts/admin-*.png.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.e2e.harness import (
    ROOT,
    EmulatorHandle,
    Proc,
    run_python_client,
    serve_argv,
    start_emulator,
    stop_cleanly,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CHROMIUM = Path(os.environ.get("TTSIGN_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "artifacts"
SECRET = "e2e-admin-secret-0123456789-abcdefghij"
UI_TIMEOUT_MS = 15_000


@dataclass
class Server:
    proc: Proc
    url: str


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    handle = start_emulator(None, strict=True, tls=True)
    yield handle
    assert "Traceback" not in stop_cleanly(handle.proc)


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    state = tmp_path_factory.mktemp("admin-console")
    env = {
        "TTSIGN_STORE_PATH": str(state / "ttsign.sqlite3"),
        "TTSIGN_CONTACT_EMAIL": "e2e-operator@example.org",
        "TTSIGN_ADMIN_SECRET": SECRET,
    }
    proc = Proc(serve_argv(emu.url), name="server", env=env).start()
    ready = proc.wait_ready()
    yield Server(proc, ready["url"])
    stderr = stop_cleanly(proc)
    assert "Traceback" not in stderr
    assert SECRET not in stderr, "the admin secret reached the server log"


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright, closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def logged_in_page(browser: Any, server: Server) -> Any:
    """A console page, logged in with the admin secret."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{server.url}/admin", wait_until="load")
    page.fill("#secret", SECRET)
    page.click("#login-button")
    expect(page.locator("#console")).to_be_visible(timeout=UI_TIMEOUT_MS)
    return page


def shot(page: Any, name: str, min_bytes: int = 5_000) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"admin-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > min_bytes
    return path


@contextlib.contextmanager
def attacker_site(html: str) -> Iterator[int]:
    """Another web server on 127.0.0.1 (free port, stopped after) serving `html` at /attack."""
    body = html.encode("utf-8")

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site.server_address[1]
    finally:
        site.shutdown()
        site.server_close()
        thread.join(5)


def wait_refused(server: Server, plaintext: str) -> None:
    """Until the server refuses the key (a revocation reaches every process within the key cache's 1 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.url}/webcast/rate_limits", headers={"X-Api-Key": plaintext}, timeout=5).status_code
        if status == 401:
            return
        time.sleep(0.1)
    raise AssertionError("the revoked key is still accepted after 10 s")


def watch_a_relay_consumer(page: Any, server: Server, emu: EmulatorHandle, plaintext: str, key_id: str) -> None:
    """A consumer with the key joins just after the console took a picture (the latest it can come), shows in the
    next one with its caller, and its room leaves the picture when the stream ends."""
    from playwright.sync_api import expect

    ws_url = server.url.replace("http://", "ws://") + f"/ws?uniqueId=emu_streamer&apiKey={plaintext}"
    with page.expect_response(lambda response: response.url.endswith("/admin/api/live"), timeout=UI_TIMEOUT_MS):
        pass
    with ws_connect(ws_url, open_timeout=10) as consumer:
        consumer.recv(timeout=15)  # the greeting: joined, the room's TikTok socket is open
        relay_row = page.locator("#live-relay tbody tr", has_text="emu_streamer")
        expect(relay_row).to_contain_text(f"key:{key_id}", timeout=UI_TIMEOUT_MS)
        expect(relay_row.locator("td").nth(1)).to_have_text("1")
        shot(page, "3b-relay-consumer")

        httpx.post(f"{emu.url}/__emu/close", json={"clean": True}, timeout=10).raise_for_status()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                consumer.recv(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4005, closed.value  # stream end
        expect(relay_row).to_have_count(0, timeout=UI_TIMEOUT_MS)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make chromium`")
def test_log_in_create_a_key_watch_it_used_revoke_it(emu: EmulatorHandle, server: Server) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.on("dialog", lambda dialog: dialog.accept())  # the revoke confirmation
        page.goto(f"{server.url}/admin", wait_until="load")
        expect(page.locator("#login")).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(page.locator("#console")).to_be_hidden()

        page.fill("#secret", SECRET[:-1] + "?")
        page.click("#login-button")
        expect(page.locator("#login-error")).to_contain_text("not the admin secret", timeout=UI_TIMEOUT_MS)
        expect(page.locator("#console")).to_be_hidden()
        shot(page, "1-wrong-secret")

        page.fill("#secret", SECRET)
        page.click("#login-button")
        expect(page.locator("#console")).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(page.locator("#live-strategies")).to_contain_text("direct", timeout=UI_TIMEOUT_MS)

        page.fill("#new-name", "e2e-overlay")
        page.fill("#new-per-minute", "30")
        page.click("#create-key")
        expect(page.locator("#new-key-shown")).to_be_visible(timeout=UI_TIMEOUT_MS)
        plaintext = page.locator("#new-key-plaintext").inner_text().strip()
        key_id = page.locator("#new-key-id").inner_text().strip()
        assert re.fullmatch(rf"tts_{key_id}_[A-Za-z0-9_-]{{20,}}", plaintext), plaintext
        row = page.locator(f"#key-table tr[data-key-id='{key_id}']")
        expect(row).to_contain_text("e2e-overlay")
        expect(row).to_contain_text("30 /")
        expect(page.locator("#legend-minute")).to_have_text("no usage", timeout=UI_TIMEOUT_MS)
        page.fill("#key-filter", "no-such-key")
        expect(page.locator("#key-count")).to_have_text("none of 1")
        page.fill("#key-filter", "E2E-over")  # by name, any case
        expect(page.locator("#key-count")).to_have_text("1–1 of 1")
        expect(row).to_be_visible()
        shot(page, "2-key-created")

        run = run_python_client(emu.url, server.url, api_key=plaintext, timeout=25)
        assert run.outcome.get("ok") is True, (run.outcome, run.stderr[-3000:])
        assert run.names()[0] == "Connect"

        page.click("#refresh-usage")
        requests = page.locator("#legend-minute [data-counter='requests']")
        expect(requests).to_contain_text(re.compile(r"requests: [1-9]"), timeout=UI_TIMEOUT_MS)
        expect(page.locator("#legend-hour [data-counter='requests']")).to_contain_text(re.compile(r": [1-9]"))
        expect(page.locator("#legend-minute [data-counter='connects']")).to_contain_text("connects: 1")
        assert int(page.locator("#chart-minute").get_attribute("data-total") or "0") >= 1
        expect(page.locator("#top-rooms")).to_contain_text(str(run.events[0]["room_id"]))
        expect(row.locator("td").nth(6)).not_to_have_text("0", timeout=UI_TIMEOUT_MS)
        expect(row.locator("td").nth(7)).to_have_text(re.compile(r"^\d+%$"))  # of the day's limit
        expect(page.locator("#live-identities")).not_to_contain_text("no identity yet", timeout=UI_TIMEOUT_MS)
        shot(page, "3-usage-moved")

        # A relay consumer with the key: its room and caller show in the live picture while the room is relayed.
        # The default scenario ends the stream 1.7 s after a socket enters the room, and the relay drops an
        # ended room at once: less than the console's 2 s between pictures, so the room could come and go
        # unseen. Without a timeline the room stays live until the test ends the stream itself.
        timeline = httpx.get(f"{emu.url}/__emu/scenario", timeout=10).json()["timeline"]
        emu.patch_scenario({"timeline": []})
        try:
            watch_a_relay_consumer(page, server, emu, plaintext, key_id)
        finally:
            emu.patch_scenario({"timeline": timeline})

        page.click("#revoke-key")
        expect(row).to_contain_text("revoked", timeout=UI_TIMEOUT_MS)
        expect(page.locator("#detail-status")).to_have_text("revoked")
        expect(page.locator("#new-key-shown")).to_be_hidden()  # the plaintext is off the screen
        assert plaintext not in page.content()
        shot(page, "4-revoked")

    wait_refused(server, plaintext)
    refused = run_python_client(emu.url, server.url, api_key=plaintext, timeout=20)
    assert refused.outcome.get("ok") is not True and refused.returncode == 3, (refused.outcome, refused.stderr[-2000:])
    assert "Connect" not in refused.names()


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make chromium`")
@pytest.mark.parametrize("attacker", ["cross-site", "same-site"])
def test_another_site_cannot_act_through_a_logged_in_browser(
    emu: EmulatorHandle, server: Server, attacker: str
) -> None:
    from playwright.sync_api import expect

    # The attacker's page is served from loopback too (a page of a public address may not even ask loopback:
    # Chromium refuses that itself and the server is never asked). cross-site: `localhost` is another site than
    # 127.0.0.1, so no cookie goes. same-site: another port of the same host, where the browser does send the
    # SameSite=Strict cookie, so only the server's own check stops it.
    attack_page = (
        "<!doctype html><title>attacker</title><h1>Another site's page</h1>"
        "<p>It asks the console to create a key, with the operator's browser.</p><script>"
        f"fetch('{server.url}/admin/api/keys', {{method: 'POST', mode: 'no-cors', credentials: 'include',"
        " headers: {'Content-Type': 'text/plain'}, body: '{\"name\": \"planted\"}'})"
        ".finally(() => { document.title = 'sent'; });"
        "</script>"
    )
    with chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/admin", wait_until="load")
        page.fill("#secret", SECRET)
        page.click("#login-button")
        expect(page.locator("#console")).to_be_visible(timeout=UI_TIMEOUT_MS)

        attacker_tab = context.new_page()
        with attacker_site(attack_page) as port:
            host = "127.0.0.1" if attacker == "same-site" else "localhost"
            with attacker_tab.expect_response(f"{server.url}/admin/api/keys", timeout=UI_TIMEOUT_MS) as answer:
                attacker_tab.goto(f"http://{host}:{port}/attack", wait_until="load")
            response = answer.value
            assert response.status == 403, response.status
            expect(attacker_tab).to_have_title("sent", timeout=UI_TIMEOUT_MS)
        shot(attacker_tab, f"5-attack-{attacker}", min_bytes=1_000)

        names = page.evaluate("fetch('/admin/api/keys').then(r => r.json()).then(b => b.keys.map(k => k.name))")
        assert "planted" not in names
        unauthenticated = browser.new_context().new_page()
        unauthenticated.goto(f"{server.url}/admin", wait_until="load")
        expect(unauthenticated.locator("#login")).to_be_visible(timeout=UI_TIMEOUT_MS)
        status = unauthenticated.evaluate("fetch('/admin/api/keys').then(r => r.status)")
        assert status == 401
    access = [line for line in server.proc.stderr_text().splitlines() if '"/admin/api/keys"' in line]
    assert any('"cross_site"' in line and '"status": 403' in line for line in access), access[-5:]


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make chromium`")
def test_keys_are_listed_a_hundred_at_a_time(server: Server) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = logged_in_page(browser, server)
        created = page.evaluate(
            """async () => {
              for (let n = 0; n < 105; n++) {
                const r = await fetch('/admin/api/keys', {method: 'POST', body: JSON.stringify({name: `bulk-${n}`}),
                  headers: {'Content-Type': 'application/json', 'X-CSRF-Token': state.csrf}});
                if (r.status !== 201) return r.status;
              }
              return 201;
            }"""
        )
        assert created == 201
        page.reload(wait_until="load")
        count = page.locator("#key-count")
        expect(count).to_have_text(re.compile(r"^1–100 of 1\d\d$"), timeout=UI_TIMEOUT_MS)
        total = int(count.inner_text().rsplit(" ", 1)[1])
        expect(page.locator("#key-table tbody tr")).to_have_count(100)
        expect(page.locator("#key-table tbody tr").first).to_contain_text("bulk-104")  # newest first
        expect(page.locator("#previous-keys")).to_be_disabled()
        page.click("#next-keys")
        expect(count).to_have_text(f"101–{total} of {total}")
        expect(page.locator("#key-table tbody tr")).to_have_count(total - 100)
        expect(page.locator("#next-keys")).to_be_disabled()
        page.fill("#key-filter", "bulk-10")  # bulk-10, bulk-100 ... bulk-104
        expect(count).to_have_text(f"1–6 of 6 (of {total})")
        shot(page, "6-filtered")


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make chromium`")
def test_an_older_live_picture_arriving_late_does_not_paint_over_a_newer_one(server: Server) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = logged_in_page(browser, server)
        # The first of two asks is answered 600 ms late (as from a slow server), each answer marked with
        # its order in the picture's window; the second, newer answer must stay on screen.
        page.evaluate(
            """async () => {
              stopTimers();
              const realFetch = window.fetch;
              let asks = 0;
              window.fetch = async (url, options) => {
                const response = await realFetch(url, options);
                if (!String(url).endsWith('/admin/api/live')) return response;
                const order = ++asks;
                const live = await response.json();
                live.numbers.window_s = order === 1 ? 111 : 222;
                if (order === 1) await new Promise((resolve) => setTimeout(resolve, 600));
                return new Response(JSON.stringify(live), {status: 200});
              };
              await Promise.all([loadLive(), loadLive()]);
            }"""
        )
        expect(page.locator("#live-window")).to_have_text("rates over the last 222 s")
