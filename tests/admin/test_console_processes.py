"""The console in real `ttsign serve` processes: a login holds on every worker of `--workers 2` (sessions are
signed, not stored), the live numbers add up every worker's metrics, and with `admin_port` the console is on
the admin listener only. And with Redis as the store, keys and usage go through it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.admin.conftest import SECRET, Console, make_console
from tests.e2e.harness import Proc, serve_argv, stop_cleanly
from tests.redis_db import REDIS_URL, delete_prefix, new_prefix, require_redis
from tests.upstream.fake_tiktok import STREAMER_ROOM
from ttsign.api.admin.session import COOKIE_NAME

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[str]:
    env = {"TTSIGN_STORE_PATH": str(tmp_path / "keys.sqlite3"), "TTSIGN_ADMIN_SECRET": SECRET}
    proc = Proc(serve_argv("http://127.0.0.1:9", "--workers", "2"), name="workers", env=env).start()
    try:
        yield proc.wait_ready()["url"]
    finally:
        assert "Traceback" not in stop_cleanly(proc)


def test_one_login_holds_on_every_worker(two_workers: str) -> None:
    with httpx.Client(base_url=two_workers, timeout=10) as first:
        login = first.post("/admin/api/login", json={"secret": SECRET})
        assert login.status_code == 200
        cookie, csrf = first.cookies[COOKIE_NAME], login.json()["csrf_token"]
    answered_by: dict[int, list[int]] = {}
    created = 0
    for n in range(200):  # new connections until both workers have answered (the kernel spreads them)
        with httpx.Client(base_url=two_workers, timeout=10, cookies={COOKIE_NAME: cookie}) as fresh:
            worker = fresh.get("/healthz").json()["worker"]
            if worker not in answered_by:  # each worker creates a key with the one login
                made = fresh.post("/admin/api/keys", json={"name": f"via-{n}"}, headers={"X-CSRF-Token": csrf})
                created += made.status_code == 201
            answered_by.setdefault(worker, []).append(fresh.get("/admin/api/keys").status_code)
            live = fresh.get("/admin/api/live")
            assert live.status_code == 200 and live.json()["numbers"]["requests_total"]
        if len(answered_by) == 2 and n >= 10:
            break
    assert len(answered_by) == 2
    assert all(status == 200 for statuses in answered_by.values() for status in statuses), answered_by
    assert created == 2


def test_with_an_admin_port_the_console_is_served_there_only(tmp_path: Path) -> None:
    env = {
        "TTSIGN_STORE_PATH": str(tmp_path / "keys.sqlite3"),
        "TTSIGN_ADMIN_SECRET": SECRET,
        "TTSIGN_ADMIN_PORT": "0",
    }
    proc = Proc(serve_argv("http://127.0.0.1:9"), name="admin-port", env=env).start()
    try:
        ready = proc.wait_ready()
        with httpx.Client(base_url=ready["url"], timeout=10) as public:
            assert public.get("/admin").status_code == 404
            assert public.post("/admin/api/login", json={"secret": SECRET}).status_code == 404
        with httpx.Client(base_url=ready["admin_url"], timeout=10) as private:
            assert private.get("/admin").status_code == 200
            assert private.get("/admin/assets/console.js").status_code == 200
            assert private.post("/admin/api/login", json={"secret": SECRET}).status_code == 200
            assert private.get("/admin/api/keys").json() == {"keys": []}
    finally:
        assert "Traceback" not in stop_cleanly(proc)


@pytest.fixture
async def on_redis() -> AsyncIterator[Console]:
    require_redis()
    prefix = new_prefix()
    try:
        async for console in make_console(redis_url=REDIS_URL, redis_key_prefix=prefix):
            yield console
    finally:
        delete_prefix(prefix)


async def test_with_redis_keys_and_usage_go_through_it(on_redis: Console) -> None:
    await on_redis.login()
    created = await on_redis.http.post("/admin/api/keys", json={"name": "replicas"}, headers=on_redis.headers())
    key_id, plaintext = created.json()["key"]["key_id"], created.json()["api_key"]
    params = {"room_id": STREAMER_ROOM, "client": "ttlive-python"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=on_redis.app), base_url="http://t") as http:
        connected = await http.get("/webcast/fetch", params=params, headers={"X-Api-Key": plaintext})
    assert connected.status_code == 200, connected.text
    usage = (await on_redis.http.get(f"/admin/api/keys/{key_id}/usage")).json()
    assert sum(usage["minute"]["counts"]["connects"]) == 1 and usage["top_rooms"] == [[STREAMER_ROOM, 1]]
    listed = (await on_redis.http.get("/admin/api/keys")).json()["keys"]
    assert [(k["key_id"], k["today"].get("requests")) for k in listed] == [(key_id, 1)]
