"""Handlers of the www.tiktok.com and webcast.tiktok.com HTML/JSON routes (bodies come from pages.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from ttsign.emulator import pages
from ttsign.emulator.cookies import set_cookie_header
from ttsign.emulator.era import JS_COOKIE
from ttsign.emulator.state import Emulator


def _with_ttwid(response: Response, emu: Emulator, request: Request) -> Response:
    """Issue a ttwid unless the client already holds one of ours (TikTok keeps a valid ttwid), on the share
    of requests the era mints one on."""
    if not emu.cookies.is_issued(request.cookies.get("ttwid")) and emu.mints_ttwid():
        response.headers.append("set-cookie", set_cookie_header("ttwid", emu.cookies.issue_ttwid()))
    return response


async def home(request: Request, emu: Emulator) -> Response:
    """GET /: mints ttwid and msToken before 2026-09; since, only msToken (PirateTok: the home page stopped
    minting ttwid reliably in late 2026)."""
    response = HTMLResponse(pages.home_html())
    if not emu.since_2026_09:
        response.headers.append("set-cookie", set_cookie_header("ttwid", emu.cookies.issue_ttwid()))
    response.headers.append("set-cookie", set_cookie_header("msToken", emu.cookies.issue_ms_token()))
    return response


async def live_page(request: Request, emu: Emulator) -> Response:
    user = request.path_params["user"]
    script = pages.page_script_cookie(JS_COOKIE, emu.cookies.issue_js_token())
    return _with_ttwid(HTMLResponse(pages.live_html(emu.scenario, user, script)), emu, request)


async def user_page(request: Request, emu: Emulator) -> Response:
    """GET /@{user}: a profile page (the streamer's, or TikTok's own that sign servers bootstrap from), which
    mints ttwid like every profile page."""
    body = pages.user_html(emu.scenario, request.path_params["user"])
    if body is None:
        return HTMLResponse(pages.not_found_html(), status_code=404)
    return _with_ttwid(HTMLResponse(body), emu, request)


async def api_live_room(request: Request, emu: Emulator) -> Response:
    return JSONResponse(pages.api_live_room(emu.scenario, request.query_params.get("uniqueId", "")))


async def check_alive(request: Request, emu: Emulator) -> Response:
    return JSONResponse(pages.check_alive(emu.scenario, request.query_params.getlist("room_ids")))


async def room_info(request: Request, emu: Emulator) -> Response:
    query = request.query_params
    if request.url.path.rstrip("/").endswith("info_by_user"):
        return JSONResponse(pages.room_info(emu.scenario, None, query.get("unique_id", "")))
    return JSONResponse(pages.room_info(emu.scenario, query.get("room_id", ""), None))


async def gift_list(request: Request, emu: Emulator) -> Response:
    return JSONResponse(pages.gift_list(emu.scenario))
