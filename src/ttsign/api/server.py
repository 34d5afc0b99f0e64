"""`ttsign serve`: bind, announce readiness on stdout, serve until SIGINT/SIGTERM, exit 0.

The socket is bound here (not by uvicorn) so that port 0 works and the real port can be announced.
stdout carries exactly one line, the ready line; every log goes to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import socket
import sys
import time
from collections.abc import Coroutine, Generator
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI

from ttsign import logs
from ttsign.api import admin_port
from ttsign.api import workers as workers_module
from ttsign.api.app import create_app
from ttsign.api.http_protocol import ConnectionLimits, guarded_protocol
from ttsign.config import Settings
from ttsign.unknown_settings import unknown_setting_warnings

logger = logging.getLogger(__name__)
_REPEAT_S = 0.5  # a second signal sooner than this is the same stop request delivered twice


class _Server(uvicorn.Server):
    """uvicorn re-raises captured signals after shutdown (exit status 130/143); we want a clean 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        handled = (signal.SIGINT, signal.SIGTERM)
        for sig in handled:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    _first_signal_at: float | None = None

    def _on_signal(self, sig: int) -> None:
        now = time.monotonic()
        if self._first_signal_at is None:
            self._first_signal_at = now
            self.should_exit = True
            logger.info("received %s, shutting down", signal.Signals(sig).name)
        elif now - self._first_signal_at > _REPEAT_S and not self.force_exit:
            # A second, deliberate signal (Ctrl-C again): stop waiting for open connections. A duplicate of
            # the first (make or a process group delivering the same SIGTERM twice) changes nothing.
            self.force_exit = True
            logger.info("received %s again, closing open connections now", signal.Signals(sig).name)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket; port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it keep-alive responses written in two parts stall ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def ready_line(sock: socket.socket, admin_sock: socket.socket | None = None) -> str:
    line = {"event": "ready", "service": "server", "url": _url(sock), "tls_url": None}
    if admin_sock is not None:
        line["admin_url"] = _url(admin_sock)  # /metrics, /docs and /openapi.json (admin_port)
    return json.dumps(line)


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - reporting, not binding
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def _announce_when_started(
    server: uvicorn.Server, sock: socket.socket, admin_sock: socket.socket | None = None
) -> None:
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.005)
    sys.stdout.write(ready_line(sock, admin_sock) + "\n")
    sys.stdout.flush()


def server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """uvicorn's settings: our protocol (head and body limits), keep-alive, and whose forwarded headers count."""
    return uvicorn.Config(
        app,
        http=guarded_protocol(
            ConnectionLimits(settings.max_header_bytes, settings.header_timeout_s, settings.body_timeout_s)
        ),
        log_config=None,  # keep our stderr logging; uvicorn's default sends access logs to stdout
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Longer than a reverse proxy's idle upstream keep-alive (nginx: 60 s), so the proxy closes idle
        # connections first: otherwise it can reuse one at the moment we close it and answer 502.
        timeout_keep_alive=settings.keep_alive_timeout_s,
        # uvicorn would believe X-Forwarded-For from loopback by default: any local peer could name its own
        # client address (and so its rate-limit bucket). Only the configured proxies are believed.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        server_header=False,
        # No WebSocket pings from the server: the relay's push socket speaks to tiktok-live-connector, which
        # never answers one (autoPong off) and would be dropped after a ping timeout, as TikTok never pings.
        # A vanished consumer is found when writing to it fails or its relay queue fills (closed 4008).
        ws_ping_interval=None,
        ws_per_message_deflate=settings.relay_deflate,
    )


async def serve(app: FastAPI, sock: socket.socket, settings: Settings, *, announce: bool = True) -> None:
    config = server_config(app, settings)
    server = _Server(config)
    admin_sock = admin_port.admin_socket(app)  # the admin listener, when admin_port is set
    # Everything built so far lives for the whole process: keep it out of the collector's way, so full
    # collections (the source of multi-millisecond pauses under load) only walk per-request objects.
    gc.collect()
    gc.freeze()
    announcer = asyncio.create_task(_announce_when_started(server, sock, admin_sock)) if announce else None
    try:
        await server.serve(sockets=[sock] if admin_sock is None else [sock, admin_sock])
    finally:
        if announcer is not None:
            announcer.cancel()


def configure_logging(level: str, log_format: Literal["json", "text"] = "json") -> None:
    """Everything on stderr, one JSON object per line by default, request ids stamped, secrets masked."""
    logs.configure(level, log_format)


def run(host: str | None = None, port: int | None = None, upstream: str | None = None, workers: int = 1) -> None:
    """Entry point of `ttsign serve` (see the process contract in the module docstring).

    An option left out (None) is not passed on, so TTSIGN_HOST/TTSIGN_PORT/TTSIGN_UPSTREAM and the TOML
    file decide; an option given on the command line wins over both.
    """
    given: dict[str, Any] = {"host": host, "port": port, "upstream": upstream}
    try:
        settings = Settings(**{name: value for name, value in given.items() if value is not None})
    except ValueError as exc:  # pydantic's ValidationError and ConfigFileError: say what, no traceback
        print(f"ttsign serve: invalid configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    for warning in unknown_setting_warnings():
        logger.warning(warning)
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", settings.host, settings.port, exc.strerror or exc)
        raise SystemExit(1) from None
    admin_sock = _bind_admin(settings, sock)
    try:
        if workers > 1:
            workers_module.supervise(
                sock,
                workers,
                lambda: _serve_one(settings, sock, announce=False, admin_sock=admin_sock),
                lambda sock: ready_line(sock, admin_sock),
            )
        else:
            _serve_one(settings, sock, announce=True, admin_sock=admin_sock)
    finally:
        sock.close()
        if admin_sock is not None:
            admin_sock.close()


def _bind_admin(settings: Settings, sock: socket.socket) -> socket.socket | None:
    """The admin listener's socket (admin_port), listening already so workers forked later share its queue."""
    if settings.admin_port is None:
        return None
    try:
        admin_sock = bind_socket(settings.host, settings.admin_port)
    except OSError as exc:
        sock.close()
        logger.error("cannot listen on %s:%s (admin_port): %s", settings.host, settings.admin_port, exc.strerror or exc)
        raise SystemExit(1) from None
    admin_sock.listen(128)
    return admin_sock


def _serve_one(
    settings: Settings, sock: socket.socket, *, announce: bool, admin_sock: socket.socket | None = None
) -> None:
    app = admin_port.listening(create_app(settings), settings, admin_sock)
    _run_loop(serve(app, sock, settings, announce=announce))


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)
