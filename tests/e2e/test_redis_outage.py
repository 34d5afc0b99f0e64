"""Redis going away under real servers: fail closed (503 store_unavailable, fast) or open, never crash, recover.

The Redis here is a private redis-server of this test on a free loopback port, stopped with
`redis-cli -p PORT shutdown nosave` and started again on the same port (the shared 127.0.0.1:6379 is never
touched). Two servers share it: one with the default fail-closed mode, one with `open`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.harness import EmulatorHandle, Proc, serve_argv, start_emulator, ttsign_keys
from tests.redis_db import PrivateRedis

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SIGN_BODY = {"url": "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=7390000000000000001"}
FAST_S = 1.0  # a 503 must come at once, not after a hang


@dataclass
class Setup:
    redis: PrivateRedis
    emulator: EmulatorHandle
    closed: Proc
    opened: Proc

    @property
    def env(self) -> dict[str, str]:
        return {"TTSIGN_REDIS_URL": self.redis.url, "TTSIGN_REDIS_TIMEOUT_S": "0.3"}

    def url(self, proc: Proc) -> str:
        return str(proc.ready["url"])

    def create_key(self) -> dict[str, Any]:
        return ttsign_keys(self.env, "create", "--name", "outage")


@pytest.fixture
def setup() -> Iterator[Setup]:
    redis = PrivateRedis().start()
    emulator = start_emulator(None, strict=True, tls=False)
    procs: list[Proc] = []
    try:
        base = {"TTSIGN_REDIS_URL": redis.url, "TTSIGN_REDIS_TIMEOUT_S": "0.3"}
        for name, mode in (("closed", "closed"), ("open", "open")):
            argv = serve_argv(emulator.url)
            procs.append(Proc(argv, name=f"server-{name}", env={**base, "TTSIGN_REDIS_FAILURE_MODE": mode}).start())
        for proc in procs:
            proc.wait_ready()
        yield Setup(redis, emulator, procs[0], procs[1])
    finally:
        codes = {proc.name: proc.stop() for proc in procs}
        emulator.proc.stop()
        redis.kill()
    assert all(code == 0 for code in codes.values()), codes


def sign(http: httpx.Client, base: str, api_key: str | None = None) -> tuple[httpx.Response, float]:
    headers = {"X-Api-Key": api_key} if api_key else {}
    started = time.monotonic()
    response = http.post(base + "/webcast/sign_url", json=SIGN_BODY, headers=headers)
    return response, time.monotonic() - started


def assert_store_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert (body["code"], body["reason"]) == (503, "store_unavailable"), body
    assert response.headers["Retry-After"] == "1"
    assert elapsed < FAST_S, elapsed


def test_redis_outage_fails_closed_or_open_and_recovers(setup: Setup) -> None:
    closed, opened = setup.url(setup.closed), setup.url(setup.opened)
    seen = setup.create_key()["api_key"]
    unseen = setup.create_key()["api_key"]
    with httpx.Client(timeout=10) as http:
        for base in (closed, opened):
            assert sign(http, base)[0].status_code == 200
            assert sign(http, base, seen)[0].status_code == 200

        setup.redis.shutdown()  # Redis goes away mid-service, its data with it (nosave)

        for _ in range(3):
            assert_store_unavailable(*sign(http, closed, seen))
            assert_store_unavailable(*sign(http, closed))  # anonymous/IP limits follow the mode too
        # Fail open: served without the limits; a key read before stands on its last record; an unknown
        # key cannot be told from a forged one, so it gets the 503 too.
        time.sleep(1.1)  # past the key cache: the lookups really go to the (dead) store
        for _ in range(3):
            for key in (None, seen):
                response, elapsed = sign(http, opened, key)
                assert response.status_code == 200 and elapsed < 2 * FAST_S, (response.text, elapsed)
        assert_store_unavailable(*sign(http, opened, unseen))
        for base in (closed, opened):
            assert http.get(base + "/healthz").status_code == 200  # alive, not crashed
            assert http.get(base + "/readyz").status_code == 503  # but not ready: a balancer can route around

        restarted = PrivateRedis(port=setup.redis.port).start()  # back, on the same port, empty
        setup.redis.process = restarted.process  # so the fixture stops this one

        fresh = setup.create_key()["api_key"]  # the CLI reaches the restarted Redis at once
        # Each server notices by itself: within its 1 s outage hold plus one request, it serves again.
        deadline = time.monotonic() + 5
        while not all(sign(http, base, fresh)[0].status_code == 200 for base in (closed, opened)):
            assert time.monotonic() < deadline, "the servers did not recover by themselves"
            time.sleep(0.1)
        for base in (closed, opened):
            assert http.get(base + "/readyz").status_code == 200
            for key in (None, fresh):
                response = sign(http, base, key)[0]
                assert response.status_code == 200, (base == opened, key is None, response.text)
        time.sleep(1.1)
        assert sign(http, closed, seen)[0].status_code == 401  # the restarted Redis is empty: really in use
    for proc in (setup.closed, setup.opened):
        assert proc.process is not None and proc.process.poll() is None
        assert "Traceback" not in proc.stderr_text()


def test_a_hung_redis_is_a_fast_503_not_a_hang(setup: Setup) -> None:
    closed = setup.url(setup.closed)
    key = setup.create_key()["api_key"]
    assert setup.redis.process is not None
    with httpx.Client(timeout=10) as http:
        assert sign(http, closed, key)[0].status_code == 200
        os.kill(setup.redis.process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
        try:
            time.sleep(1.1)
            for api_key in (key, None):
                response, elapsed = sign(http, closed, api_key)
                assert_store_unavailable(response, elapsed)
        finally:
            os.kill(setup.redis.process.pid, signal.SIGCONT)
        deadline = time.monotonic() + 5
        while sign(http, closed, key)[0].status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover after Redis resumed"
            time.sleep(0.1)
