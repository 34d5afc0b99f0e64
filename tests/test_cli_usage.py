"""`ttsign usage`: a real server's requests show up per key once it has flushed, as tables and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import TTSIGN, Proc, serve_argv, ttsign_keys

GIFT_LIST = "https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id=7390000000000000001"


def usage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TTSIGN, "usage", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_servers_requests_are_reported_per_key_after_it_stops(tmp_path: Path) -> None:
    env = {"TTSIGN_STORE_PATH": str(tmp_path / "ttsign.sqlite3")}
    created: dict[str, Any] = ttsign_keys(env, "create", "--name", "overlay")
    key_id, key = created["key_id"], created["api_key"]
    proc = Proc(serve_argv("http://127.0.0.1:9"), name="usage-serve", env=env).start()
    try:
        url = proc.wait_ready()["url"]
        with httpx.Client(base_url=url, timeout=10) as http:
            for _ in range(3):
                signed = http.post("/tiktok/sign_url", json={"url": GIFT_LIST}, headers={"X-Api-Key": key})
                assert signed.status_code == 200, signed.text
            assert http.get("/webcast/fetch", params={"room_id": "x"}, headers={"X-Api-Key": key}).status_code == 400
            assert http.get("/healthz").status_code == 200
    finally:
        assert proc.stop() == 0  # the last counts are flushed on the way out
    listed = usage(env, "--json")
    assert listed.returncode == 0, listed.stderr
    assert f"sqlite:{tmp_path / 'ttsign.sqlite3'}" in listed.stderr
    (caller,) = json.loads(listed.stdout)["callers"]
    assert caller["caller"] == f"key:{key_id}"
    assert caller["today"] == {"requests": 4, "signatures": 3, "refused:bad_request": 1}
    one = json.loads(usage(env, key_id, "--json").stdout)
    assert sum(row.get("signatures", 0) for row in one["minutes"]) == 3
    assert sum(row.get("requests", 0) for row in one["hours"]) == 4
    assert all(row["start"].endswith("Z") for row in one["hours"])
    table = usage(env, key_id)
    assert table.returncode == 0 and f"key:{key_id}" in table.stdout and "signatures" in table.stdout
    overview = usage(env)
    assert overview.returncode == 0 and f"key:{key_id}" in overview.stdout


def test_an_unreachable_redis_is_a_one_line_error(tmp_path: Path) -> None:
    result = usage({"TTSIGN_REDIS_URL": "redis://127.0.0.1:9/0", "TTSIGN_REDIS_TIMEOUT_S": "0.5"})
    assert result.returncode == 1
    assert "usage store did not answer" in result.stderr and "Traceback" not in result.stderr
