"""Runners for the client-version drivers: where each one is installed and how to start it (see harness.py).

Installed by scripts/e2e-deps.sh (`make e2e-deps`): TikTokLive 6.6.6 / 5.0.8 in .venv-e2e/tiktoklive-<v>/,
tiktok-live-connector 2.3.0-beta1 / 1.2.3 in tests/e2e/node-2.3/ and node-1.2/. ``*_missing`` say why a driver
cannot run here (a test skips on exactly that, nothing else).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.e2e.harness import E2E, NODE_DIR, PYTHON, ROOT, ClientRun, Proc, _run_driver, run_python_client

VENVS = ROOT / ".venv-e2e"
CLIENTS = E2E / "clients"
PY_DRIVERS = {"6.6.6": CLIENTS / "python_client_666.py", "5.0.8": CLIENTS / "python_client_508.py"}
NODE_DIRS = {"2.5.0": NODE_DIR, "2.3.0-beta1": E2E / "node-2.3", "1.2.3": E2E / "node-1.2"}
SIGN_STAND_IN = E2E / "sign_stand_in.py"


def venv_python(version: str) -> Path:
    return VENVS / f"tiktoklive-{version}" / "bin" / "python"


def python_missing(version: str) -> str | None:
    if not venv_python(version).exists():
        return f"TikTokLive {version} not installed: run scripts/e2e-deps.sh (make e2e-deps)"
    return None


def node_missing(version: str) -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIRS[version] / "node_modules" / "tiktok-live-connector" / "package.json").exists():
        return f"tiktok-live-connector {version} not installed: run scripts/e2e-deps.sh (make e2e-deps)"
    return None


def _common(web: str, sign: str, unique_id: str, api_key: str | None, timeout: float) -> list[str]:
    argv = ["--web", web, "--sign", sign, "--unique-id", unique_id, "--timeout", str(timeout)]
    return argv + (["--api-key", api_key] if api_key else [])


def run_python(
    version: str,
    web: str,
    sign: str,
    unique_id: str = "emu_streamer",
    *,
    api_key: str | None = None,
    timeout: float = 30,
    extra: list[str] | None = None,
) -> ClientRun:
    """Run the TikTokLive ``version`` driver in that version's own venv."""
    argv = [str(venv_python(version)), str(PY_DRIVERS[version]), *_common(web, sign, unique_id, api_key, timeout)]
    return _run_driver([*argv, *(extra or [])], timeout, None, ROOT)


def run_node(
    version: str,
    web: str,
    sign: str,
    unique_id: str = "emu_streamer",
    *,
    script: str = "client.mjs",
    tls_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 30,
    extra: list[str] | None = None,
) -> ClientRun:
    """Run a script of the tiktok-live-connector ``version`` directory (client.mjs, sign_url.mjs, ...)."""
    directory = NODE_DIRS[version]
    argv = ["node", str(directory / script), *_common(web, sign, unique_id, api_key, timeout)]
    if tls_url:
        argv += ["--tls-url", tls_url]
    return _run_driver([*argv, *(extra or [])], timeout, None, directory)


def run_python_sign_url(web: str, sign: str, *, timeout: float = 20, extra: list[str] | None = None) -> ClientRun:
    """TikTokLive 7.0.1 (the project venv) signing a URL through build_request(sign_url=True)."""
    argv = [PYTHON, str(CLIENTS / "python_sign_url.py"), "--web", web, "--sign", sign, "--timeout", str(timeout)]
    return _run_driver([*argv, *(extra or [])], timeout, None, ROOT)


def start_sign_stand_in(reply: dict[str, Any] | None = None) -> Proc:
    """The test-only sign stand-in (sign_stand_in.py): legacy sign_url, or ``reply`` on every sign route."""
    argv = [PYTHON, str(SIGN_STAND_IN)] + (["--reply", json.dumps(reply)] if reply else [])
    proc = Proc(argv, name="sign-stand-in").start()
    proc.wait_ready()
    return proc


# Every client of issue 4's matrix by one name, for tests that treat them alike.
CLIENTS_ALL = ("py-7.0.1", "py-6.6.6", "py-5.0.8", "node-2.5.0", "node-2.3.0-beta1", "node-1.2.3")


def client_missing(client: str) -> str | None:
    kind, version = client.split("-", 1)
    if kind == "py":
        return None if version == "7.0.1" else python_missing(version)
    return node_missing(version)


def run_client(
    client: str, web: str, sign: str, *, tls_url: str | None = None, api_key: str | None = None, timeout: float = 20
) -> ClientRun:
    """Connect with ``client`` (a CLIENTS_ALL name) to ``web`` through the sign server ``sign``."""
    kind, version = client.split("-", 1)
    if kind == "py" and version == "7.0.1":
        return run_python_client(web, sign, api_key=api_key, timeout=timeout)
    if kind == "py":
        return run_python(version, web, sign, api_key=api_key, timeout=timeout)
    return run_node(
        version, web, sign, tls_url=None if version == "1.2.3" else tls_url, api_key=api_key, timeout=timeout
    )
