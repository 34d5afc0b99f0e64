"""The console's page and its assets, from package data (no CDN): /admin and /admin/assets/*.

The page itself holds nothing secret; it logs in and draws from /admin/api. A strict Content-Security-Policy
allows only this origin's scripts and styles, and no framing (clickjacking).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/admin/assets"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def assets_directory() -> Path:
    return Path(str(files("ttsign.api.admin") / "static"))


def install(app: FastAPI) -> None:
    page = (assets_directory() / "console.html").read_text(encoding="utf-8")

    async def console_page() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    app.mount(ASSETS_PATH, StaticFiles(directory=assets_directory()), name="admin-assets")
    for path in ("/admin", "/admin/"):
        app.add_api_route(path, console_page, methods=["GET"], include_in_schema=False)
