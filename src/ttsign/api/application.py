"""The ASGI application: FastAPI, with ttsign's own middleware outside FastAPI's.

FastAPI puts its own layers (the 500 handler, exception telemetry, a body-size limit) outside every added
middleware, so each request crosses all of them before ttsign's edge (ids and metrics, size limits, the
in-flight queue) and the hot routes it serves. Here the order is turned around: what is added with
`add_middleware` wraps the whole FastAPI stack, in the same order among itself (the last added is the
outermost). The connect and sign_url routes, answered by HotRoutes inside that edge, no longer cross
FastAPI's layers: 2% of a direct connect's instructions (counted in-process under cachegrind).

The other routes cross FastAPI's layers as before, only inside the edge. Their errors are still answered by
FastAPI's 500 handler (ours, installed by errors.py); Observe now sees that answer go out and counts it. Only
an error raised by the edge middleware itself reaches the server without a JSON answer: HotRoutes answers
its routes' errors itself, and the edge does no work that can fail on a request's input.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp


class Application(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        edge, self.user_middleware = self.user_middleware, []
        try:
            app = super().build_middleware_stack()  # FastAPI's own layers around the router
        finally:
            self.user_middleware = edge
        for cls, args, kwargs in reversed(edge):
            app = cls(app, *args, **kwargs)
        return app
