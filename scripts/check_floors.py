"""Check that the lower bounds pyproject.toml declares for uvicorn and curl_cffi are really enough.

Builds .venv-floors with exactly those floor versions (pip --constraint), everything else as locked in
requirements-test.lock, and runs the tests that exercise what we use of each: the server process and its
HTTP protocol (uvicorn), the TikTok transport and every browser target (curl_cffi). Reinstalls only when
pyproject.toml or the lock changed. Exit status is pytest's.

    python scripts/check_floors.py            # run by `make test` (target `floors`)
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-floors"
LOCK = ROOT / "requirements-test.lock"
CHECKED = ("uvicorn", "curl_cffi")  # the floors issue 12 asked to make true; others follow the lock
TESTS = (
    "tests/upstream/test_transport.py",  # curl_cffi: handles, impersonation of every profile target, proxy
    "tests/api/test_server.py",  # uvicorn: socket handoff, ready line, bad configuration
    "tests/api/test_serve_against_emulator.py",  # uvicorn + curl_cffi: a real server against the emulator
    "tests/test_serve_settings.py",  # uvicorn: host/port from the environment
    "tests/emulator/test_runner.py",  # uvicorn: the emulator's HTTP and WebSocket protocols
    "tests/security/test_slow_clients.py",  # uvicorn: our HTTP protocol's head and body limits
)


def floors() -> dict[str, str]:
    """{name: version} from the `name>=version` entries of pyproject's dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, str] = {}
    for requirement in project["dependencies"]:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", requirement)
        if match and match.group(1).lower().replace("-", "_") in CHECKED:
            found[match.group(1).lower().replace("-", "_")] = match.group(2)
    missing = set(CHECKED) - set(found)
    if missing:
        raise SystemExit(f"pyproject.toml declares no >= floor for {', '.join(sorted(missing))}")
    return found


def constraints(pinned: dict[str, str]) -> str:
    """The lock with the checked packages replaced by their floors."""
    kept = []
    for line in LOCK.read_text().splitlines():
        name = re.split(r"[=<>!~ ;\[]", line.strip(), maxsplit=1)[0].lower().replace("-", "_")
        if name and name not in pinned and not line.startswith("#"):
            kept.append(line)
    return "\n".join([*kept, *(f"{name}=={version}" for name, version in sorted(pinned.items()))]) + "\n"


def install(text: str) -> None:
    stamp = VENV / ".installed"
    digest = hashlib.sha256((text + (ROOT / "pyproject.toml").read_text()).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    (VENV / "constraints.txt").write_text(text)
    pip = [str(VENV / "bin" / "pip"), "install", "-q"]
    subprocess.run([*pip, "-U", "pip"], check=True)
    subprocess.run([*pip, "-c", str(VENV / "constraints.txt"), "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    stamp.write_text(digest)


def release(version: str) -> tuple[int, ...]:
    """0.35 and 0.35.0 are the same release."""
    numbers = [int(part) for part in version.split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def installed_versions() -> dict[str, str]:
    program = "import importlib.metadata as m, sys; print(*(m.version(n) for n in sys.argv[1:]))"
    done = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", program, *CHECKED], check=True, capture_output=True, text=True
    )
    return dict(zip(CHECKED, done.stdout.split(), strict=True))


def main() -> int:
    pinned = floors()
    install(constraints(pinned))
    versions = installed_versions()
    if {n: release(v) for n, v in versions.items()} != {n: release(v) for n, v in pinned.items()}:
        print(f"floors venv has {versions}, expected {pinned}", file=sys.stderr)
        return 1
    print(f"testing at the declared floors: {', '.join(f'{n}=={v}' for n, v in versions.items())}", flush=True)
    # The e2e harness starts the `ttsign` beside the Python running the tests: the floors venv's own.
    tests = [test for test in TESTS if (ROOT / test).exists()]
    command = [str(VENV / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
