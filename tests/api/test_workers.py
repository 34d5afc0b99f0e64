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
        children = os.popen(f"pgrep -P {proc.pid}").read().split()
        assert len(children) == 2
        answered_by: set[int] = set()
        for _ in range(200):  # new connections until both workers have answered (the kernel spreads them)
            with httpx.Client(base_url=ready["url"], timeout=5) as fresh:
                health = fresh.get("/healthz")
                assert health.status_code == 200
                answered_by.add(health.json()["worker"])
                assert fresh.get("/nope").status_code == 404
            if len(answered_by) == 2:
                break
        assert answered_by == {int(child) for child in children}  # both served, and only the workers
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.process is not None and proc.process.wait(15) == 0
        for child in children:
            assert not Path(f"/proc/{child}").exists()  # reaped by the parent, not orphaned
        assert "Traceback" not in proc.stderr_text()
    finally:
        proc.stop()
