"""`ttsign emulate`: bind the listeners (plain + optional TLS), print the ready line, stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from ttsign.emulator.app import create_app
from ttsign.emulator.era import DEFAULT_ERA, Era
from ttsign.emulator.scenario import Scenario, ScenarioError, load_scenario
from ttsign.emulator.state import Emulator
from ttsign.emulator.tls import self_signed_pem
from ttsign.emulator.transport import WebSocketProtocol, tracking_http_protocol
from ttsign.emulator.vendor_verify import VendorReference, VendorVerifyOptions
from ttsign.signers.backend import BackendRefusal


def bind(host: str, port: int) -> socket.socket:
    """Bind (not listen) so that port 0 is resolved before the ready line is printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(
        family, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )  # asyncio sets TCP_NODELAY only for IPPROTO_TCP
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def public_url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", ""):  # noqa: S104 - naming the wildcard to replace it, not binding to it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (two servers share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(emu: Emulator, **tls: Any) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(emu),
        http=tracking_http_protocol(emu),
        ws=WebSocketProtocol,
        ws_ping_interval=None,  # Node's client never answers pings: the server must not send any
        ws_ping_timeout=None,
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
        **tls,
    )


async def serve(
    emu: Emulator, plain: socket.socket, tls_sock: socket.socket | None, stop: asyncio.Event, cert_dir: Path | None
) -> None:
    servers: list[tuple[_Server, socket.socket]] = [(_Server(_config(emu)), plain)]
    if tls_sock is not None and cert_dir is not None:
        tls = {"ssl_certfile": str(cert_dir / "cert.pem"), "ssl_keyfile": str(cert_dir / "key.pem")}
        servers.append((_Server(_config(emu, **tls)), tls_sock))
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
    while not all(server.started for server, _ in servers):
        if any(task.done() for task in tasks):
            break
        await asyncio.sleep(0.01)
    if all(server.started for server, _ in servers):
        ready = {"event": "ready", "service": "emulator", "url": emu.plain_url, "tls_url": emu.tls_url, "era": emu.era}
        print(json.dumps(ready), flush=True)
        await stop.wait()
    emu.stopping.set()
    for server, _ in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)


def _write_cert(directory: Path, host: str) -> None:
    cert_pem, key_pem = self_signed_pem(host)
    (directory / "cert.pem").write_bytes(cert_pem)
    key_file = directory / "key.pem"
    key_file.write_bytes(key_pem)
    key_file.chmod(0o600)


async def _main(emu: Emulator, plain: socket.socket, tls_sock: socket.socket | None, cert_dir: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if emu.vendor is not None:
            await _start_vendor(emu.vendor)
        await serve(emu, plain, tls_sock, stop, cert_dir)
    finally:
        if emu.vendor is not None:
            await emu.vendor.aclose()  # its Node workers, killed by PID


async def _start_vendor(vendor: VendorReference) -> None:
    """Load the vendor SDK once before the ready line: a bad bundle or no node is a usage error, not a
    refusal of every request that follows."""
    try:
        await vendor.check()
    except BackendRefusal as exc:
        print(f"ttsign emulate: --vendor-script cannot be used: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def build(scenario: Path | Scenario | None, strict: bool, era: Era = DEFAULT_ERA) -> Emulator:
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return Emulator(scenario=loaded, strict=strict, era=era)


def run(
    host: str,
    port: int,
    scenario: Path | None,
    tls_port: int | None,
    strict: bool,
    *,
    era: Era = DEFAULT_ERA,
    vendor_script: Path | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; `vendor_script`: verify with TikTok's own SDK too (--verify-with)."""
    try:
        emu = build(scenario, strict, era)
        if vendor_script is not None:
            emu.vendor = VendorReference(VendorVerifyOptions(vendor_script))
        plain = bind(host, port)
        tls_sock = bind(host, tls_port) if tls_port is not None else None
    except ScenarioError as exc:
        print(f"ttsign emulate: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        print(f"ttsign emulate: cannot listen on {host}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(2) from None
    emu.plain_url = public_url("http", plain)
    emu.tls_url = public_url("https", tls_sock) if tls_sock is not None else None
    with tempfile.TemporaryDirectory(prefix="ttsign-emu-") as tmp:
        cert_dir = Path(tmp) if tls_sock is not None else None
        if cert_dir is not None:
            _write_cert(cert_dir, host)
        asyncio.run(_main(emu, plain, tls_sock, cert_dir))
