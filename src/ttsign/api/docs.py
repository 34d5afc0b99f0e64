"""The API documentation, served without internet: Swagger UI at /docs and the document at /openapi.json.

FastAPI's own /docs page loads Swagger UI's script and stylesheet from a CDN, so it is blank wherever the
server (or the operator's browser) has no internet. Here the page points at copies served by ttsign itself,
taken from the fastapi-offline package, which ships them inside its wheel. ReDoc is not served.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
ASSETS_PATH = "/docs/assets"
_ASSETS_PACKAGE = "fastapi_offline"

# validatorUrl: null, or Swagger UI asks an online validator for a badge about the document.
_SWAGGER_PARAMETERS: dict[str, Any] = {"validatorUrl": None, "persistAuthorization": False}


def assets_directory() -> Path:
    """Where the packaged Swagger UI files are (swagger-ui-bundle.js, swagger-ui.css, favicon.png)."""
    return Path(str(files(_ASSETS_PACKAGE) / "static"))


def install(app: FastAPI, document: Callable[[], dict[str, Any]], title: str) -> None:
    """Serve /docs, its assets and /openapi.json on `app`, describing `document()` (which may be another
    app's: the admin listener documents the main API)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_directory()), name="docs-assets")

    async def openapi_json(_: Request) -> JSONResponse:
        return JSONResponse(document())

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{OPENAPI_PATH}",
            title=f"{title} - API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )

    app.add_api_route(OPENAPI_PATH, openapi_json, methods=["GET"], include_in_schema=False)
    app.add_api_route(DOCS_PATH, swagger_ui, methods=["GET"], include_in_schema=False)
