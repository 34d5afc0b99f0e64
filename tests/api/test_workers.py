"""`ttsign serve --workers 2`: one port, two processes, one ready line, clean stop by the parent's PID."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from tests.e2e.harness import Proc, serve_argv


def test_two_workers_serve_one_port_and_stop_on_sigterm() -> None:
    proc = Proc(serve_argv(None, "--workers", "2"), name="workers").start()
    try:
        ready = proc.wait_ready()
        seen = set()
        with httpx.Client(base_url=ready["url"], timeout=5) as http:
            for _ in range(40):
                http.get("/healthz").raise_for_status()
                with httpx.Client(base_url=ready["url"], timeout=5) as fresh:  # new connection each time
                    assert fresh.get("/nope").status_code == 404
                seen.add(http.get("/healthz").status_code)
        assert seen == {200}
        children = os.popen(f"pgrep -P {proc.pid}").read().split()
        assert len(children) == 2
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.process is not None and proc.process.wait(15) == 0
        for child in children:
            assert not Path(f"/proc/{child}").exists()  # reaped by the parent, not orphaned
        assert "Traceback" not in proc.stderr_text()
    finally:
        proc.stop()
