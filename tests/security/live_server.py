"""A real `ttsign serve` on 127.0.0.1 (port 0, read back) in front of a real `ttsign emulate`, and the raw
socket moves the attacks of issue 12 make: stalled bodies and heads, oversized heads, hang-ups.

Everything is bounded: every socket has a timeout, every wait a deadline. Processes are stopped by PID.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.harness import EmulatorHandle, Proc, serve_argv

ROOM = "7390000000000000001"  # the emulator's default room
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
SIGN_BODY = {"url": f"https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id={ROOM}", "userAgent": CHROME_UA}


@dataclass
class LiveServer:
    proc: Proc
    url: str
    port: int

    def stderr_lines(self) -> list[str]:
        return self.proc.stderr_text().splitlines()


@contextmanager
def live_server(emulator: EmulatorHandle, tmp: Path, **env: str) -> Iterator[LiveServer]:
    """`ttsign serve` against the emulator, with `env` over the test environment; stopped by PID after."""
    environment = {"TTSIGN_STORE_PATH": str(tmp / "keys.sqlite3"), "TTSIGN_CONTACT_EMAIL": "ops@example.org", **env}
    proc = Proc(serve_argv(emulator.url), name="security-server", env=environment).start()
    try:
        url = proc.wait_ready()["url"]
        yield LiveServer(proc, url, int(url.rsplit(":", 1)[1]))
    finally:
        proc.stop()


def connect(port: int, *, source: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    """A TCP connection to the server from `source` (any 127/8 address works on loopback)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    sock.settimeout(timeout)
    return sock


def head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after it


def read_answer(sock: socket.socket, deadline: float) -> Answer | None:
    """The next response on the socket (skipping 100 Continue), or None if the connection closed first."""
    buffer = b""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            status_line, *header_lines = buffer[:end].decode("latin-1").split("\r\n")
            status = int(status_line.split()[1])
            if status == 100:
                buffer = buffer[end + 4 :]
                continue
            headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
            body, closed = _read_body(sock, buffer[end + 4 :], int(headers.get("content-length", "0")), deadline)
            return Answer(status, headers, body, closed)
        chunk = _recv(sock, deadline)
        if not chunk:
            return None
        buffer += chunk


def _read_body(sock: socket.socket, body: bytes, length: int, deadline: float) -> tuple[bytes, bool]:
    while len(body) < length:
        chunk = _recv(sock, deadline)
        if not chunk:
            return body, True
        body += chunk
    return body, wait_closed(sock, min(deadline, time.monotonic() + 0.5)) is not None


def _recv(sock: socket.socket, deadline: float) -> bytes:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def wait_continue(sock: socket.socket, deadline: float) -> bool:
    """Whether the server sent `100 Continue`, i.e. started reading this request's body, before the deadline."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        try:
            chunk = _recv(sock, deadline)
        except TimeoutError:
            return False
        if not chunk:
            return False
        buffer += chunk
    return buffer.startswith(b"HTTP/1.1 100")


def wait_closed(sock: socket.socket, deadline: float) -> float | None:
    """The time (monotonic) the server closed the connection, reading and dropping whatever it sends
    meanwhile; None if still open at the deadline."""
    while time.monotonic() < deadline:
        try:
            chunk = _recv(sock, deadline)
        except TimeoutError:
            return None
        if not chunk:
            return time.monotonic()
    return None


def timed_get(http: httpx.Client, url: str, **params: str) -> tuple[int, float]:
    started = time.monotonic()
    response = http.get(url, params=params)
    return response.status_code, time.monotonic() - started


def timed_sign(http: httpx.Client, base: str) -> tuple[int, float]:
    started = time.monotonic()
    response = http.post(f"{base}/webcast/sign_url", json=SIGN_BODY)
    return response.status_code, time.monotonic() - started


def metric_total(text: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus counter's series whose labels include `labels`."""
    total = 0.0
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + "{") and all(label in line for label in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total
