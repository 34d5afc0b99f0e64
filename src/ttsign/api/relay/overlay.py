"""The chat overlay page (`/overlay/chat?uniqueId=...&key=...`) and its two assets, served from the package.

No CDN and no inline script, so the page works offline and a strict Content-Security-Policy holds; the page
is transparent for OBS browser sources. Its URL carries the key, so the page sends no Referer anywhere.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

from ttsign.api.errors import error_response, new_request_id

router = APIRouter(tags=["relay"], include_in_schema=False)

_ASSETS = files("ttsign.api") / "static" / "overlay"
_TYPES = {"overlay.js": "text/javascript; charset=utf-8", "overlay.css": "text/css; charset=utf-8"}
_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' https: data:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> bytes:
    return (_ASSETS / name).read_bytes()


@router.get("/overlay/chat")
async def chat_overlay() -> Response:
    return Response(_asset("chat.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get("/overlay/assets/{name}")
async def overlay_asset(name: str) -> Response:
    media_type = _TYPES.get(name)
    if media_type is None:  # only the known files: the name never reaches the file system
        return error_response(404, "not_found", "no such overlay asset", new_request_id())
    return Response(_asset(name), media_type=media_type, headers=_HEADERS)
