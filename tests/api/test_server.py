"""Process plumbing of `ttsign serve`: the listening socket and the ready line."""

from __future__ import annotations

import json
import socket

from ttsign.api.server import bind_socket, ready_line


def test_port_zero_is_resolved_and_tcp_nodelay_will_apply() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.getsockname()[1] > 0
        # asyncio sets TCP_NODELAY only on sockets whose proto is TCP; without it keep-alive stalls 40 ms.
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_ready_line_is_one_json_object() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        line = ready_line(sock)
        port = sock.getsockname()[1]
    finally:
        sock.close()
    assert "\n" not in line
    assert json.loads(line) == {
        "event": "ready",
        "service": "server",
        "url": f"http://127.0.0.1:{port}",
        "tls_url": None,
    }


def test_bad_configuration_exits_2_with_a_clear_message() -> None:
    import os
    import subprocess

    from tests.e2e.harness import serve_argv

    done = subprocess.run(
        serve_argv(),
        env={**os.environ, "TTSIGN_DEFAULT_PROFILE": "netscape4"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown profile 'netscape4'" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # no ready line
