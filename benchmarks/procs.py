"""Benchmark helper: a ttsign process started on port 0, its ready line read, stopped by PID."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
from pathlib import Path

TTSIGN = str(Path(sys.executable).with_name("ttsign"))


# Benchmarks measure speed, not the default anonymous limits: servers they start get their own store and
# limits high enough never to refuse (benchmarks that measure limiting pass an API key instead).
BENCH_ENV = {
    "TTSIGN_STORE_PATH": str(Path(tempfile.mkdtemp(prefix="ttsign-bench-")) / "ttsign.sqlite3"),
    **{
        f"TTSIGN_{name}": "100000000"
        for name in (
            "ANONYMOUS_PER_MINUTE",
            "ANONYMOUS_PER_HOUR",
            "ANONYMOUS_PER_DAY",
            "ANONYMOUS_ROOMS_PER_HOUR",
            "IP_PER_MINUTE",
            "IP_PER_HOUR",
        )
    },
}


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds process `pid` has used so far (Linux /proc; 0 elsewhere or once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Proc:
    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        environment = {**os.environ, **BENCH_ENV, **(env or {})}
        self.popen = subprocess.Popen([TTSIGN, *args], stdout=subprocess.PIPE, stderr=self.log, env=environment)
        assert self.popen.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.popen.stdout, selectors.EVENT_READ)
            if not sel.select(30):
                self.stop()
                raise SystemExit(f"{args[0]}: no ready line")
        self.url: str = json.loads(self.popen.stdout.readline())["url"]

    def cpu_s(self) -> float:
        """User+system CPU seconds used so far (Linux /proc; 0 elsewhere)."""
        return cpu_seconds(self.popen.pid)

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
