"""End-to-end harness: real processes on 127.0.0.1 (port 0, read back from the ready line), stopped by PID.

- ``Proc``: start a service command, wait for its one JSON ready line, stop it (SIGTERM, then SIGKILL).
- ``EmulatorHandle``: a running ``ttsign emulate`` plus its /__emu hooks.
- ``run_python_client`` / ``run_node_client``: run a real client driver to its end and parse its JSON lines.

Generic on purpose: a ``ttsign serve`` process is the same ``Proc`` with ``service == "server"``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
# The venv running the tests (the project's .venv, or .venv-floors in scripts/check_floors.py) starts its own
# ttsign; outside a venv, the project's .venv.
VENV_BIN = Path(sys.executable).parent if (Path(sys.executable).parent / "ttsign").exists() else ROOT / ".venv" / "bin"
TTSIGN = str(VENV_BIN / "ttsign") if (VENV_BIN / "ttsign").exists() else "ttsign"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
NODE_DIR = E2E / "node"
PYTHON_CLIENT = E2E / "clients" / "python_client.py"
NODE_CLIENT = NODE_DIR / "client.mjs"


# `ttsign serve` on the connect path before 2026-09 (im/fetch alone, fully signed), for the tests of that path
# against `ttsign emulate --era 2026-08`; the defaults are `direct,fetch` and an unsigned im/fetch.
FETCH_PATH_ENV = {
    "TTSIGN_CONNECT_STRATEGIES": '["fetch"]',
    "TTSIGN_SIGNATURES_BY_ENDPOINT": '{"im_fetch": ["msToken", "X-Bogus", "X-Gnarly"]}',
}


class ProcError(RuntimeError):
    """A service that exited or stayed silent instead of printing its ready line; carries its stderr."""


class Proc:
    """One service process. stdout is read by a thread (so the pipe never fills); stderr goes to a file."""

    def __init__(self, argv: list[str], *, name: str, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.name = name
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}
        self.stdout_lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr = tempfile.NamedTemporaryFile(prefix=f"ttsign-{name}-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self) -> Proc:
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=self.env,
            cwd=ROOT,
        )
        threading.Thread(target=self._pump, daemon=True, name=f"{self.name}-stdout").start()
        return self

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            self._lines.put(line)
        self._lines.put(None)

    def stderr_text(self) -> str:
        return Path(self._stderr.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = 20.0) -> dict[str, Any]:
        """Block until the ready line arrives; returns it (url, tls_url). Raises ProcError otherwise."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise ProcError(f"{self.name}: no ready line within {timeout}s\n{self.stderr_text()}") from None
        if line is None:
            code = self.process.wait(5) if self.process else None
            raise ProcError(f"{self.name} exited ({code}) before it was ready\n{self.stderr_text()}")
        try:
            ready = json.loads(line)
        except ValueError:
            self.stop()
            raise ProcError(f"{self.name}: first stdout line is not the JSON ready line: {line!r}") from None
        if ready.get("event") != "ready":
            self.stop()
            raise ProcError(f"{self.name}: unexpected first line {ready!r}")
        self.ready = ready
        return ready

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by PID, then SIGKILL after ``timeout``; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._stderr.close()
        return self.process.returncode


@dataclass
class EmulatorHandle:
    proc: Proc
    url: str
    tls_url: str | None

    def _get(self, path: str, **params: str) -> Any:
        response = httpx.get(self.url + path, params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def log(self, kind: str | None = None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self._get("/__emu/log", **({"kind": kind} if kind else {}))
        return entries

    def patch_scenario(self, changes: dict[str, Any]) -> None:
        httpx.patch(self.url + "/__emu/scenario", json=changes, timeout=10).raise_for_status()

    def push(self, entries: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(self.url + "/__emu/push", json=entries, timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def strict_default_scenario() -> dict[str, Any]:
    """The shipped default scenario, with the push handshake also requiring the route params back."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "src/ttsign/emulator/scenarios/default.yaml").read_text())
    websocket = data["websocket"]
    websocket["strict"] = {**websocket.get("strict", {}), "require_route_params_echo": True}
    return data


def start_emulator(
    scenario: Path | dict[str, Any] | None, *, strict: bool = True, tls: bool = True, era: str | None = None
) -> EmulatorHandle:
    """`ttsign emulate` on free loopback ports; a scenario given as data is written to a file of its own.
    `era` None is the emulator's default (2026-09)."""
    argv = [TTSIGN, "emulate", "--host", "127.0.0.1", "--port", "0"]
    if era is not None:
        argv += ["--era", era]
    if tls:
        argv += ["--tls-port", "0"]
    if isinstance(scenario, dict):
        path = Path(tempfile.mkdtemp(prefix="ttsign-scenario-")) / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario))
        scenario = path
    if scenario is not None:
        argv += ["--scenario", str(scenario)]
    argv.append("--strict" if strict else "--lenient")
    proc = Proc(argv, name="emulator").start()
    ready = proc.wait_ready()
    return EmulatorHandle(proc, ready["url"], ready.get("tls_url"))


def stop_cleanly(proc: Proc) -> str:
    """Stop a server or emulator by PID, assert it exited 0, and give its stderr for further checks."""
    code = proc.stop()
    stderr = proc.stderr_text()
    assert code == 0, f"{proc.name} did not shut down cleanly (exit {code}):\n{stderr}"
    return stderr


def serve_argv(upstream: str | None = None, *options: str) -> list[str]:
    """`ttsign serve` on a free loopback port (its URL comes in the ready line), TikTok at `upstream`."""
    argv = [TTSIGN, "serve", "--host", "127.0.0.1", "--port", "0", *options]
    return [*argv, "--upstream", upstream] if upstream else argv


def ttsign_keys(env: dict[str, str], *args: str) -> dict[str, Any]:
    """`ttsign keys ...` with `env` over this process's environment; the JSON document it prints."""
    done = subprocess.run(
        [TTSIGN, "keys", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


@dataclass
class ClientRun:
    """What a client driver printed: its events in order and its final outcome line."""

    returncode: int
    events: list[dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def pairs(self) -> list[tuple[str, str | None]]:
        """(event, msg_id) per event, the shape the expected lists are computed in."""
        return [(e["event"], e.get("msg_id")) for e in self.events]


def _run_driver(argv: list[str], timeout: float, env: dict[str, str] | None, cwd: Path) -> ClientRun:
    try:
        done = subprocess.run(
            argv,
            check=False,  # the exit status is part of the result
            capture_output=True,
            text=True,
            timeout=timeout + 15,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return ClientRun(-1, _parse(out)[0], {"event": "outcome", "ok": False, "error": "HarnessTimeout"}, "")
    events, outcome = _parse(done.stdout)
    return ClientRun(done.returncode, events, outcome, done.stderr)


def _parse(stdout: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events: list[dict[str, Any]] = []
    outcome: dict[str, Any] = {}
    for raw in stdout.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue  # a client library's own prints
        record = json.loads(line)
        if record.get("event") == "outcome":
            outcome = record
        else:
            events.append(record)
    return events, outcome


def run_python_client(
    web: str,
    sign: str,
    unique_id: str = "emu_streamer",
    *,
    api_key: str | None = None,
    timeout: float = 30,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ClientRun:
    argv = [PYTHON, str(PYTHON_CLIENT), "--web", web, "--sign", sign, "--unique-id", unique_id]
    argv += ["--timeout", str(timeout), *(extra or [])]
    if api_key:
        argv += ["--api-key", api_key]
    return _run_driver(argv, timeout, env, ROOT)


def node_missing() -> str | None:
    """Why the Node driver cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "tiktok-live-connector" / "package.json").exists():
        return "tiktok-live-connector not installed: run `npm ci` in tests/e2e/node (make node-deps)"
    return None


def run_node_client(
    web: str,
    sign: str,
    unique_id: str = "emu_streamer",
    *,
    tls_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 30,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ClientRun:
    """``env`` reaches the connector too, e.g. {"WS_CONNECT_TIMEOUT_MS": "3000"} for a hanging handshake."""
    argv = ["node", str(NODE_CLIENT), "--web", web, "--sign", sign, "--unique-id", unique_id]
    argv += ["--timeout", str(timeout), *(extra or [])]
    if tls_url:
        argv += ["--tls-url", tls_url]
    if api_key:
        argv += ["--api-key", api_key]
    return _run_driver(argv, timeout, env, NODE_DIR)
