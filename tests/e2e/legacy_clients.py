"""Runners for the client-version drivers: where each one is installed and how to start it (see harness.py).

Installed by scripts/e2e-deps.sh (`make e2e-deps`): TikTokLive 6.6.6 / 5.0.8 in .venv-e2e/tiktoklive-<v>/,
tiktok-live-connector 2.3.0-beta1 / 1.2.3 in tests/e2e/node-2.3/ and node-1.2/. ``*_missing`` say why a driver
cannot run here (a test skips on exactly that, nothing else).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.harness import E2E, NODE_DIR, PYTHON, ROOT, ClientRun, Proc, _run_driver

VENVS = ROOT / ".venv-e2e"
CLIENTS = E2E / "clients"
PY_DRIVERS = {"6.6.6": CLIENTS / "python_client_666.py", "5.0.8": CLIENTS / "python_client_508.py"}
NODE_DIRS = {"2.5.0": NODE_DIR, "2.3.0-beta1": E2E / "node-2.3", "1.2.3": E2E / "node-1.2"}
LEGACY_SIGN_STUB = E2E / "legacy_sign_stub.py"


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


def start_legacy_sign_stub() -> Proc:
    """The test-only legacy GET /webcast/sign_url stand-in (for tiktok-live-connector 1.x); stop it by PID."""
    proc = Proc([PYTHON, str(LEGACY_SIGN_STUB)], name="legacy-sign-stub").start()
    proc.wait_ready()
    return proc
