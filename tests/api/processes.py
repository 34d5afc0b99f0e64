"""Start `ttsign` commands as real processes on port 0, read their ready line, stop them by PID."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TTSIGN = str(Path(sys.executable).with_name("ttsign"))


class Proc:
    """One running `ttsign ...`; logs go to a temporary file, stdout carries only the ready line."""

    def __init__(self, *args: str, ready_timeout_s: float = 20.0, env: dict[str, str] | None = None) -> None:
        self.stderr_file = tempfile.NamedTemporaryFile(prefix="ttsign-", suffix=".log", delete=False)  # noqa: SIM115
        self.popen = subprocess.Popen(
            [TTSIGN, *args],
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            env={**os.environ, **(env or {})},
        )
        try:
            self.ready = self._read_ready(ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        self.url: str = self.ready["url"]

    def _read_ready(self, timeout_s: float) -> dict[str, str]:
        assert self.popen.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.popen.stdout, selectors.EVENT_READ)
            if not selector.select(timeout_s):
                raise TimeoutError(f"no ready line within {timeout_s} s; log:\n{self.log()}")
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"process exited before ready ({self.popen.poll()}); log:\n{self.log()}")
        ready: dict[str, str] = json.loads(line)
        assert ready["event"] == "ready"
        return ready

    def log(self) -> str:
        return Path(self.stderr_file.name).read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int:
        """Signal, wait, kill after the timeout; returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self.stderr_file.close()
        return self.popen.returncode

    def wait_exit(self, timeout_s: float) -> int | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                return self.popen.returncode
            time.sleep(0.02)
        return None
