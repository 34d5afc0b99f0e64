"""Issue 12 item 15: `make run` installs only the server; the test install is locked; the floors are declared
where scripts/check_floors.py (run by `make test`) tests them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import check_floors  # noqa: E402


def dry_run(target: str) -> list[str]:
    """The commands `make -n -B TARGET` would run (every prerequisite treated as out of date)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    argv = ["make", "-n", "-B", target]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def pip_installs(lines: list[str]) -> list[str]:
    return [line for line in lines if "pip install" in line and "-U pip" not in line]


def test_make_run_installs_the_package_without_extras_and_passes_no_host_or_port() -> None:
    lines = dry_run("run")
    assert pip_installs(lines) == [".venv/bin/pip install -q -e ."]
    serve = [line for line in lines if "ttsign serve" in line]
    assert serve == [".venv/bin/ttsign serve "]  # TTSIGN_HOST/TTSIGN_PORT and the TOML file decide


def test_the_test_install_uses_the_lock() -> None:
    assert pip_installs(dry_run("install")) == [".venv/bin/pip install -q -c requirements-test.lock -e '.[dev,e2e]'"]
    assert "scripts/check_floors.py" in "\n".join(dry_run("test"))


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-test.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("-", "_")] = version
    return pins


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower().replace("-", "_") for r in requirements}


def test_the_lock_pins_every_declared_dependency_at_or_above_its_floor() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = lock()
    declared = requirement_names(project["dependencies"])
    for extra in ("dev", "e2e"):
        declared |= requirement_names(project["optional-dependencies"][extra])
    missing = declared - set(pins)
    assert not missing, f"requirements-test.lock lacks {sorted(missing)}: run `make lock`"
    for name, floor in check_floors.floors().items():
        assert check_floors.release(pins[name]) >= check_floors.release(floor), (name, pins[name], floor)


def test_the_floors_checked_are_uvicorn_and_curl_cffi_and_replace_their_lock_pins() -> None:
    floors = check_floors.floors()
    assert set(floors) == {"uvicorn", "curl_cffi"}
    constraints = check_floors.constraints(floors).splitlines()
    assert f"uvicorn=={floors['uvicorn']}" in constraints and f"curl_cffi=={floors['curl_cffi']}" in constraints
    assert sum(line.startswith(("uvicorn==", "curl_cffi==")) for line in constraints) == 2
