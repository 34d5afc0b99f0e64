"""The operator console at /admin: a page (HTML, a little vanilla JS and CSS, served from package data) and the
JSON routes it draws from, behind the `admin_secret` login. Not served at all when `admin_secret` is unset."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import State

from ttsign.api.admin import pages, routes
from ttsign.api.admin.console_app import build_console_app
from ttsign.api.admin.guard import AdminRefused
from ttsign.api.errors import error_response, request_id_of
from ttsign.api.state import Services
from ttsign.config import Settings
from ttsign.metrics import Metrics


def install(app: FastAPI, settings: Settings, *, services: Services, metrics: Metrics, main_state: State) -> None:
    """Serve the console on `app` when `admin_secret` is set (else nothing: /admin stays a 404)."""
    if settings.admin_secret is None:
        return
    app.state.admin_console = build_console_app(settings, services, metrics, main_state)
    app.add_exception_handler(AdminRefused, _refused)
    app.include_router(routes.router)
    pages.install(app)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdminRefused)
    headers = {"Cache-Control": "no-store"}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return error_response(exc.status, exc.reason, exc.message, request_id_of(request), headers=headers)
