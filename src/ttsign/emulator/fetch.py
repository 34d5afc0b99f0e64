"""GET /webcast/im/fetch/: the first ProtoMessageFetchResult, guarded by strict checks like TikTok's."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ttsign.emulator import pages
from ttsign.emulator.cookies import set_cookie_header
from ttsign.emulator.era import JS_COOKIE, im_fetch_refusal
from ttsign.emulator.messages import MessageFactory, initial_result, now_ms
from ttsign.emulator.state import Emulator
from ttsign.emulator.strict import check_im_fetch

PROTOBUF = "application/protobuf"


def initial_bytes(emu: Emulator, room_id: str | None = None) -> bytes:
    """A fresh initial result for the room (the streamer's by default); every fetch gets its own cursor and
    internal_ext."""
    emu.fetch_count += 1
    n = emu.fetch_count
    room = room_id or emu.scenario.streamer.room_id
    result = initial_result(
        emu.scenario,
        MessageFactory(emu.scenario, room),
        emu.push_server,
        cursor=f"init-{n}-{now_ms()}",
        internal_ext=f"internal_src:dim|wss_push_room_id:{room}|fetch:{n}",
    )
    return result.SerializeToString()


def room_refusal(emu: Emulator, room_id: str) -> JSONResponse | None:
    """TikTok's JSON answer for an unknown room (30001) or a room that is not live (30003), else None."""
    if not pages.is_room(emu.scenario, room_id):
        return JSONResponse(pages.webcast_error(30001))
    if emu.scenario.room.state == "offline":
        return JSONResponse(pages.webcast_error(30003))
    return None


async def strict_gate(request: Request, emu: Emulator) -> Response | None:
    """Check a signed webcast request the way TikTok does; the refusal to send, or None to go on."""
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    body = (await request.body()).decode("utf-8", "replace")
    user_agent = request.headers.get("user-agent", "")
    outcome = check_im_fetch(
        raw_query,
        body,
        user_agent,
        request.cookies,
        emu.cookies,
        now_ms=now_ms(),
        options=emu.scenario.strict,
        headers=request.headers,
    )
    if emu.vendor is not None:  # --verify-with vendor-script: TikTok's own SDK as the reference
        checks = await emu.vendor.verify(request.url.path, raw_query, body, user_agent, method=request.method)
        outcome = outcome.with_checks(checks)
    emu.log.add("strict_check", path=request.url.path, enforced=emu.strict, **outcome.as_log())
    if outcome.ok or not emu.strict:
        return None
    emu.log.add("strict_reject", path=request.url.path, failed=[name for name, _ in outcome.failures])
    return Response(b"", status_code=403 if emu.scenario.strict.reject_with == "403" else 200)


def era_gate(request: Request, emu: Emulator) -> Response | None:
    """im/fetch since 2026-09 (ttsign.emulator.era): 403 with X-Gnarly, empty 200 without the page's script."""
    status = im_fetch_refusal(
        list(request.query_params.keys()),
        request.cookies,
        emu.cookies.is_js_token(request.cookies.get(JS_COOKIE)),
    )
    emu.log.add("era_check", path=request.url.path, era=emu.era, refused=status, enforced=emu.strict)
    if status is None or not emu.strict:
        return None
    return Response(b"", status_code=status)


async def im_fetch(request: Request, emu: Emulator) -> Response:
    # Since 2026-09 the page's own im/fetch is unsigned: the session is judged, not the signature.
    refused = era_gate(request, emu) if emu.since_2026_09 else await strict_gate(request, emu)
    if refused is not None:
        return refused

    room_id = request.query_params.get("room_id", "")
    refusal = room_refusal(emu, room_id)
    if refusal is not None:
        return refusal
    response = Response(initial_bytes(emu, room_id), media_type=PROTOBUF)
    # TikTok rotates msToken on webcast responses; a sign server may pick it up for its identity.
    response.headers["x-ms-token"] = emu.cookies.issue_ms_token()
    if not emu.cookies.is_issued(request.cookies.get("ttwid")):
        response.headers.append("set-cookie", set_cookie_header("ttwid", emu.cookies.issue_ttwid()))
    return response
