"""The admin listener: with `admin_port` set, /metrics, /docs and /openapi.json are served on a second port
of the same host, and only there, so the public port carries the sign API alone.

uvicorn serves both sockets with one ASGI app: the main app, whose outermost middleware (`PortSplit`) hands
a request to the admin app when it arrived on the admin port (the scope's "server" is the local address of
the connection) and to the rest of the main app otherwise; lifespan events go to the main app, which owns
every shared resource.
"""

from __future__ import annotations

import socket

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from ttsign.api import admin as console
from ttsign.api import docs, ops
from ttsign.api.errors import install_error_handlers
from ttsign.api.observe import Observe
from ttsign.config import Settings


def admin_app(main: FastAPI, settings: Settings) -> ASGIApp:
    """The admin listener's app: the main app's metrics and documentation, per the settings."""
    admin = FastAPI(title=f"{main.title} admin", docs_url=None, redoc_url=None, openapi_url=None)
    admin.state.services = main.state.services  # /metrics refreshes the gauges from the main app's services
    admin.state.metrics = main.state.metrics
    install_error_handlers(admin)
    if settings.metrics_enabled:
        admin.include_router(ops.metrics_router)
    if settings.docs_enabled:
        docs.install(admin, main.openapi, main.title)
    console.install(admin, settings, services=main.state.services, metrics=main.state.metrics, main_state=main.state)
    return Observe(admin, main.state.metrics, access_log=settings.access_log)


class PortSplit:
    def __init__(self, main: ASGIApp, *, admin: ASGIApp, admin_port: int) -> None:
        self._main = main
        self._admin = admin
        self._admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") if scope["type"] != "lifespan" else None
        if server is not None and len(server) > 1 and server[1] == self._admin_port:
            await self._admin(scope, receive, send)
        else:
            await self._main(scope, receive, send)


def listening(main: FastAPI, settings: Settings, admin_sock: socket.socket | None) -> FastAPI:
    """`main`, answering on `admin_sock` too when there is one (its bound port: 0 is resolved by then)."""
    if admin_sock is not None:
        main.add_middleware(PortSplit, admin=admin_app(main, settings), admin_port=admin_sock.getsockname()[1])
        main.state.admin_socket = admin_sock  # for the server: listen on it, announce it
    return main


def admin_socket(app: FastAPI) -> socket.socket | None:
    """The admin listener's socket of an app `listening` prepared, else None."""
    found = getattr(app.state, "admin_socket", None)
    return found if isinstance(found, socket.socket) else None
