"""`make demo`: the emulator, the sign server and a real TikTokLive client, with events printed live.

Starts `ttsign emulate` and `ttsign serve --upstream <emulator>` on free loopback ports, then runs the
unmodified TikTokLive client through them. Ctrl-C (or the stream ending) stops everything by PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
console = Console(highlight=False)


def start(argv: list[str], name: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start a service and wait for its one-line JSON ready message."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{name} exited before it was ready (exit status {proc.wait()})")
    ready: dict[str, Any] = json.loads(line)
    console.print(f"[dim]{name} ready at {ready['url']} (pid {proc.pid})[/dim]")
    return proc, ready


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def show(record: dict[str, Any]) -> None:
    name = record.pop("event")
    user = record.pop("user", "")
    record.pop("msg_id", None)
    who = f"[bold]{user}[/bold] " if user else ""
    details = " ".join(f"{k}={v}" for k, v in record.items())
    console.print(f"[cyan]{name:>12}[/cyan]  {who}{details}")


def main() -> int:
    procs: list[subprocess.Popen[str]] = []
    try:
        emulator, emu = start(
            [str(BIN / "ttsign"), "emulate", "--port", "0", "--scenario", str(ROOT / "scripts" / "demo-scenario.yaml")],
            "emulator",
        )
        procs.append(emulator)
        server, srv = start([str(BIN / "ttsign"), "serve", "--port", "0", "--upstream", emu["url"]], "ttsign")
        procs.append(server)
        client = subprocess.Popen(
            [
                str(BIN / "python"),
                str(ROOT / "tests" / "e2e" / "clients" / "python_client.py"),
                "--web",
                emu["url"],
                "--sign",
                srv["url"],
                "--unique-id",
                "emu_streamer",
                "--timeout",
                "60",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        procs.append(client)
        console.print("[green]TikTokLive 7.0.1 connecting through ttsign to the emulator (Ctrl-C stops)[/green]")
        assert client.stdout is not None
        for line in client.stdout:
            record = json.loads(line)
            if record["event"] == "outcome":
                console.print(f"[green]client finished: {record}[/green]")
                break
            show(record)
        return client.wait(timeout=10)
    except KeyboardInterrupt:
        console.print("\n[yellow]stopping[/yellow]")
        return 130
    finally:
        for proc in reversed(procs):
            stop(proc)


if __name__ == "__main__":
    sys.exit(main())
