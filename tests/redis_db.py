"""The real Redis the Redis-backed tests run against, and a private redis-server a test may stop.

Tests use their own database index (13, `TTSIGN_TEST_REDIS_URL` to change) and, inside it, a key prefix of
their own; each test deletes exactly the keys under its prefix when it ends. (Not FLUSHDB: two test runs on
one machine would wipe each other's keys mid-test.) The shared Redis on 127.0.0.1:6379 is never stopped;
outage tests start a `PrivateRedis` on a free loopback port and stop that one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

REDIS_URL = os.environ.get("TTSIGN_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def require_redis(url: str = REDIS_URL) -> None:
    """Fail (not skip) with what to do when the test Redis is not there: `make test` starts it."""
    try:
        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {url} ({exc}); start it with `make redis`")


def new_prefix() -> str:
    return f"ttsign-test:{secrets.token_hex(4)}:"


def delete_prefix(prefix: str, url: str = REDIS_URL) -> None:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateRedis:
    """A redis-server of this test's own on 127.0.0.1:`port`, in the foreground, stopped by PID or SHUTDOWN."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; `make redis` installs it")
        self.binary = binary
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ttsign-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> PrivateRedis:
        argv = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5).ping()
                return self
            except redis.RedisError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.kill()
        pytest.fail(f"private redis-server on port {self.port} did not start")

    def shutdown(self, timeout: float = 10.0) -> None:
        """`redis-cli -p PORT shutdown nosave`, as an operator or a crash would stop it; waits for the exit."""
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "shutdown", "nosave"],
            check=False,  # redis-cli reports the dropped connection; the exit below is what counts
            capture_output=True,
            timeout=timeout,
        )
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
