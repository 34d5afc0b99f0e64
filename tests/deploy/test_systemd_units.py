"""Issue 12 item 17: the systemd units in deploy/ are valid and start ttsign as written.

`systemd-analyze verify` checks each unit (with ExecStart pointed at this checkout's ttsign, the one thing
that differs from a real install). Starting a unit needs systemd as PID 1, which a container lacks: that
test skips and says so. What can be checked without it is: the unit's own command line and environment
start a server that answers and stops with exit 0 on the unit's KillSignal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import TTSIGN, Proc
from tests.redis_db import free_port

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = "/opt/ttsign/.venv/bin/ttsign"  # where the units expect ttsign; tests use this checkout's
UNITS = {"ttsign.service": "ttsign.service", "ttsign@.service": "ttsign@8081.service"}


def systemd_analyze() -> str:
    binary = shutil.which("systemd-analyze")
    if binary is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd): cannot verify the units")
    return binary


def rendered(unit: str, directory: Path, name: str | None = None) -> Path:
    text = (ROOT / "deploy" / unit).read_text()
    assert text.count(INSTALLED) == 1, f"{unit}: ExecStart should name {INSTALLED} once"
    path = directory / (name or unit)
    path.write_text(text.replace(INSTALLED, str(Path(TTSIGN).resolve())))
    return path


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    argv = [systemd_analyze(), "verify", "--man=no", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=path.parent)


@pytest.mark.parametrize(("unit", "instance"), sorted(UNITS.items()))
def test_systemd_analyze_verify_finds_nothing(unit: str, instance: str, tmp_path: Path) -> None:
    result = verify(rendered(unit, tmp_path, instance))
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_verify_does_catch_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a unit whose command is not an absolute path is refused."""
    path = rendered("ttsign.service", tmp_path)
    path.write_text(path.read_text().replace(f"ExecStart={Path(TTSIGN).resolve()}", "ExecStart=ttsign-nowhere"))
    assert verify(path).returncode != 0


def unit_settings(path: Path) -> tuple[list[str], dict[str, str]]:
    """ExecStart's argv and the Environment= pairs of a unit file (the simple forms our units use)."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("ExecStart="):
            argv = line.removeprefix("ExecStart=").split()
        elif line.startswith("Environment="):
            name, value = line.removeprefix("Environment=").split("=", 1)
            env[name] = value
    return argv, env


@pytest.mark.e2e
@pytest.mark.parametrize(("unit", "instance"), [("ttsign.service", ""), ("ttsign@.service", "0")])
def test_the_units_command_line_starts_a_server_that_stops_cleanly(unit: str, instance: str, tmp_path: Path) -> None:
    argv, env = unit_settings(rendered(unit, tmp_path))
    argv = [part.replace("%i", instance) for part in argv]
    assert env.pop("TTSIGN_STORE_PATH") == "/var/lib/ttsign/ttsign.sqlite3"  # StateDirectory=ttsign
    env |= {"TTSIGN_STORE_PATH": str(tmp_path / "state" / "ttsign.sqlite3"), "TTSIGN_CONTACT_EMAIL": "o@x.test"}
    if "--port" not in argv:
        env["TTSIGN_PORT"] = "0"  # the single unit listens where ttsign.env says; any free port here
    assert "KillSignal=SIGTERM" in (ROOT / "deploy" / unit).read_text()
    server = Proc(argv, name="unit", env=env).start()
    try:
        url = server.wait_ready()["url"]
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
    finally:
        code = server.stop()
    assert code == 0, server.stderr_text()


def healthy_within(url: str, seconds: float) -> bool:
    """Type=exec: systemd reports the start before the socket listens, so ask until it answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.1)
    return False


def test_the_template_unit_runs_under_systemd(tmp_path: Path) -> None:
    """Where systemd is PID 1: install the template as a runtime unit, start an instance, ask /healthz."""
    comm = Path("/proc/1/comm").read_text().strip() if Path("/proc/1/comm").exists() else "unknown"
    if comm != "systemd" or shutil.which("systemctl") is None:
        pytest.skip(f"systemd is not PID 1 here (PID 1 is {comm!r}): the unit cannot be started under systemd")
    port = free_port()
    template = f"ttsign-test-{os.getpid()}@.service"
    target = Path("/run/systemd/system") / template
    text = rendered("ttsign@.service", tmp_path).read_text()
    # This checkout runs as whoever runs the tests, with its store in the test's directory.
    text = text.replace("User=ttsign\n", "").replace("Group=ttsign\n", "").replace("ProtectHome=yes\n", "")
    text = text.replace("/var/lib/ttsign/ttsign.sqlite3", str(tmp_path / "ttsign.sqlite3"))
    target.write_text(text)
    instance = template.replace("@.", f"@{port}.")
    systemctl = ["systemctl"]
    try:
        subprocess.run([*systemctl, "daemon-reload"], check=True, timeout=60)
        subprocess.run([*systemctl, "start", instance], check=True, timeout=60)
        assert healthy_within(f"http://127.0.0.1:{port}/healthz", 15.0)
    finally:
        subprocess.run([*systemctl, "stop", instance], timeout=60, check=False)
        target.unlink(missing_ok=True)
        subprocess.run([*systemctl, "daemon-reload"], timeout=60, check=False)
