"""The routes that carry a sign server's traffic, answered without FastAPI's routing and exception layers.

Connect (`/webcast/fetch`, `/webcast/rooms/{room_id}/connect`) and sign_url are nearly every request a
sign server sees, and a client's connect waits on them. Measured in-process, FastAPI's exception
middleware, exit stack and router matching cost about a fifth of ttsign's own CPU per connect. This
middleware sits inside Observe, RequestLimits and InFlightLimit (ids, metrics, size and time limits and
backpressure still apply) and serves those routes itself, with the same endpoint functions and the same
error answers (`exception_response`). The routes stay registered on the app too: the OpenAPI document and anything
that walks the router keep seeing them, and a method they do not take falls through to FastAPI's 405.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ttsign.api.errors import exception_response


class HotRoutes:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self._app = app
        # Only plain function endpoints: FastAPI routes need their dependency machinery.
        self._routes = [route for route in routes if type(route) is Route]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self._routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    scope["route"] = route  # Observe labels metrics by the route's template
                    await self._serve(route, scope, receive, send)
                    return
        await self._app(scope, receive, send)

    @staticmethod
    async def _serve(route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response: Response = await route.endpoint(request)
        except Exception as exc:  # the app's own handlers' answer: JSON, request id, never a traceback
            response = await exception_response(request, exc)
        await response(scope, receive, send)
