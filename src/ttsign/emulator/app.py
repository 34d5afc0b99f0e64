"""The emulator's ASGI app: one route table for www.tiktok.com and webcast.tiktok.com, logging and faults."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from ttsign.emulator import chat, control, endpoints, faults, fetch, stubsign
from ttsign.emulator.log import header_names, redact_query
from ttsign.emulator.push import push_endpoint
from ttsign.emulator.state import WS_PATH, Emulator

Handler = Callable[[Request, Emulator], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _log_request(emu: Emulator, request: Request, route: str, status: int | None, **extra: object) -> None:
    emu.log.add(
        "http",
        method=request.method,
        path=request.url.path,
        route=route,
        query=redact_query(request.query_params.multi_items()),
        headers=header_names(request.headers),
        user_agent=request.headers.get("user-agent", ""),
        cookies=sorted(request.cookies),
        ttwid_issued=emu.cookies.is_issued(request.cookies.get("ttwid")),
        status=status,
        **extra,
    )


def endpoint(route: faults.RouteKey, handler: Handler, *, stub: bool = False) -> Endpoint:
    """Wrap a handler: stub-sign gating, fault injection, and one log entry per request."""

    async def run(request: Request) -> Response:
        emu: Emulator = request.app.state.emu
        if stub and not emu.scenario.stub_sign:
            return await not_found(request)
        client = request.scope.get("client")
        fault = emu.scenario.faults.for_route(route)
        try:
            outcome, response = await faults.apply(
                fault, emu.hit(route), lambda: emu.abort_client(client), emu.stopping
            )
        except faults.AbortConnection as exc:
            _log_request(emu, request, route, None, fault=str(exc))
            return Response(b"", status_code=500)  # never reaches the client: its connection is gone
        if response is None:
            try:
                response = await handler(request, emu)
            except ClientDisconnect:
                # The caller gave up first (e.g. its own timeout during injected latency): nobody to answer,
                # but the request is still logged, so tests can wait for it instead of racing it.
                _log_request(emu, request, route, None, fault=outcome or None, client_gone=True)
                return Response(b"", status_code=500)  # never reaches the client: it has left
        _log_request(emu, request, route, response.status_code, fault=outcome or None)
        return response

    return run


async def not_found(request: Request) -> Response:
    emu: Emulator = request.app.state.emu
    _log_request(emu, request, "unknown", 404)
    return JSONResponse({"status_code": 404, "message": f"no such route: {request.url.path}"}, status_code=404)


async def ws_not_found(ws: WebSocket) -> None:
    emu: Emulator = ws.app.state.emu
    emu.log.add("ws_reject", path=ws.url.path, status=404, handshake_msg="", failed=["unknown_route"])
    await ws.send_denial_response(Response(b"", status_code=404))


def routes() -> list[BaseRoute]:
    e = endpoint
    return [
        # www.tiktok.com
        Route("/", e("cookie", endpoints.home), methods=["GET", "HEAD"]),
        Route("/@{user}/live", e("live_html", endpoints.live_page), methods=["GET"]),
        Route("/@{user}", e("user_html", endpoints.user_page), methods=["GET"]),
        Route("/api-live/user/room/", e("api_live", endpoints.api_live_room), methods=["GET"]),
        Route("/api-live/user/room", e("api_live", endpoints.api_live_room), methods=["GET"]),
        # webcast.tiktok.com
        Route("/webcast/room/check_alive/", e("check_alive", endpoints.check_alive), methods=["GET"]),
        Route("/webcast/room/info/", e("room_info", endpoints.room_info), methods=["GET"]),
        Route("/webcast/room/info_by_user/", e("room_info", endpoints.room_info), methods=["GET"]),
        Route("/webcast/gift/list/", e("gift_list", endpoints.gift_list), methods=["GET"]),
        Route("/webcast/im/fetch/", e("im_fetch", fetch.im_fetch), methods=["GET", "POST"]),
        Route("/webcast/room/chat/", e("room_chat", chat.room_chat), methods=["POST"]),
        WebSocketRoute(WS_PATH, push_endpoint),
        # sign-server stand-in (stub_sign scenarios only)
        Route("/webcast/fetch", e("stub_sign", stubsign.fetch, stub=True), methods=["GET"]),
        Route("/webcast/fetch/", e("stub_sign", stubsign.fetch, stub=True), methods=["GET"]),
        Route("/webcast/rooms/{room_id}/connect", e("stub_sign", stubsign.rooms_connect, stub=True), methods=["GET"]),
        Route(
            "/webcast/anchors/{unique_id}/room_id", e("stub_sign", stubsign.anchor_room_id, stub=True), methods=["GET"]
        ),
        Route("/webcast/sign_url", e("stub_sign", stubsign.sign_url, stub=True), methods=["POST"]),
        Route("/webcast/sign_url/", e("stub_sign", stubsign.sign_url, stub=True), methods=["POST"]),
        Route("/tiktok/sign_url", e("stub_sign", stubsign.sign_url, stub=True), methods=["POST"]),
        # test hooks
        Route("/__emu/log", control.log, methods=["GET", "DELETE"]),
        Route("/__emu/scenario", control.scenario, methods=["GET", "POST", "PATCH"]),
        Route("/__emu/push", control.push, methods=["POST"]),
        Route("/__emu/close", control.close, methods=["POST"]),
        Route("/__emu/state", control.state, methods=["GET"]),
        # everything else: 404, logged, so a client that adds a call fails loudly
        Route("/{path:path}", not_found, methods=ALL_METHODS),
        WebSocketRoute("/{path:path}", ws_not_found),
    ]


def create_app(emu: Emulator) -> Starlette:
    app = Starlette(routes=routes())
    app.state.emu = emu
    return app
