"""Issue 12 item 10: `ttsign serve` takes host and port from TTSIGN_HOST/TTSIGN_PORT and the TOML file when
the command line does not give them; a command-line option wins; an unknown TTSIGN_* variable is named."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.e2e.harness import TTSIGN, Proc, stop_cleanly

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(tmp_path: Path, env: dict[str, str], *options: str) -> tuple[str, str]:
    """Start `ttsign serve` with `env` over the suite's environment; (ready url, stderr) after a clean stop."""
    assert not {"TTSIGN_HOST", "TTSIGN_PORT", "TTSIGN_CONFIG_FILE"} & set(os.environ)  # only `env` names them
    full_env = {
        "TTSIGN_STORE_PATH": str(tmp_path / "s.sqlite3"),
        "TTSIGN_CONTACT_EMAIL": "ops@example.test",
        **env,
    }
    server = Proc([TTSIGN, "serve", *options], name="server", env=full_env).start()
    try:
        url = str(server.wait_ready()["url"])
    finally:
        stderr = stop_cleanly(server)
    return url, stderr


def test_port_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    url, _ = serve(tmp_path, {"TTSIGN_PORT": str(port), "TTSIGN_HOST": "127.0.0.1"})
    assert url == f"http://127.0.0.1:{port}"


def test_host_and_port_from_the_toml_file(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "ttsign.toml"
    config.write_text(f'host = "127.0.0.1"\nport = {port}\n')
    url, _ = serve(tmp_path, {"TTSIGN_CONFIG_FILE": str(config)})
    assert url == f"http://127.0.0.1:{port}"


def test_a_command_line_option_wins_over_the_environment(tmp_path: Path) -> None:
    taken = free_port()
    url, _ = serve(tmp_path, {"TTSIGN_PORT": str(taken)}, "--port", "0")
    assert not url.endswith(f":{taken}")


def test_an_unknown_variable_is_named_in_a_warning_at_start(tmp_path: Path) -> None:
    _, stderr = serve(tmp_path, {"TTSIGN_PROT": "9000"}, "--port", "0")
    warnings = [line for line in stderr.splitlines() if "TTSIGN_PROT" in line]
    assert len(warnings) == 1 and "not a ttsign setting" in warnings[0] and "9000" not in warnings[0]
