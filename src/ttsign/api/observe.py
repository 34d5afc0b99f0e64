"""The outermost middleware: a request id for every request (logs and X-Request-Id), request metrics, and
the access line (access_log.py).

Pure ASGI (no per-request task) so it costs microseconds. Routes are labelled by their template
(`/webcast/rooms/{room_id}/connect`), never by the raw path or query, which may carry keys or session ids.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from urllib.parse import unquote_plus

from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ttsign.api.access import client_of, scope_header
from ttsign.api.access_log import DIALECT_STATE, KEY_ID_STATE, log_access
from ttsign.api.request_limits import unanswered
from ttsign.logs import REQUEST_ID
from ttsign.metrics import Metrics
from ttsign.plain_metrics import Increments, Observes
from ttsign.randomness import fresh_request_id
from ttsign.service.usage import UsageRecorder
from ttsign.upstream.refusals import RefusalCode

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_REFUSALS = frozenset(code.value for code in RefusalCode)
_WINDOWS = frozenset({"minute", "hour", "day", "rooms", "connections", "concurrency"})
_MAX_CACHED_SERIES = 1024
# Usage is what callers asked of the API: not health checks, scrapes, documentation or the operator console.
_NOT_USAGE = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "unmatched"})
_CONNECT_ROUTES = frozenset(
    {"/webcast/fetch", "/webcast/fetch/", "/webcast/rooms/{room_id}/connect", "/webcast/anchors/{unique_id}/connect"}
)
_SIGN_ROUTES = frozenset(
    {
        "/webcast/sign_url",
        "/webcast/sign_url/",
        "/tiktok/sign_url",
        "/tiktok/sign_url/",
        "/tiktok/signing/encrypt/sign_url",
    }
)


def incoming_request_id(scope: Scope) -> str:
    """The caller's X-Request-Id when it is a plain token (a load balancer's), else a fresh one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_ID.fullmatch(candidate):
                return candidate
    return fresh_request_id()


def route_label(scope: Scope, plain_routes: Mapping[object, list[Route]] | None = None) -> str:
    """The template of the route that served the request, or "unmatched"."""
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else "unmatched"
    # Plain Starlette routes on a FastAPI router (the connect routes) leave no "route" in the scope, only the
    # endpoint: match again among the few routes sharing it (/webcast/fetch and /webcast/fetch/).
    for candidate in (plain_routes or {}).get(scope.get("endpoint"), ()):
        if candidate.matches(scope)[0] is Match.FULL:
            return str(candidate.path)
    return "unmatched"


def routes_by_endpoint(app: object) -> dict[object, list[Route]]:
    """Every plain route of the app, by endpoint, looking inside included routers."""
    index: dict[object, list[Route]] = {}

    def walk(container: object) -> None:
        for route in getattr(container, "routes", ()):
            inner = getattr(route, "original_router", None)  # FastAPI's lazily included router
            if inner is not None:
                walk(inner)
            elif isinstance(route, Route):
                index.setdefault(route.endpoint, []).append(route)

    walk(app)
    return index


def dialect_of(scope: Scope) -> str:
    """The calling client's family, read from the raw scope (a Request object and its parsed query, built
    again for this alone, cost more than the rest of the bookkeeping together)."""
    ua = scope_header(scope, b"user-agent")
    query: bytes = scope.get("query_string", b"")
    client = ""
    if b"client" in query:
        # Only the `client` pair is decoded, as Starlette's parse_qsl would: the others (a connect's whole
        # browser User-Agent) cost a full parse for nothing. A name is decoded only when it is encoded.
        for pair in query.decode("latin-1").split("&"):
            name, _, value = pair.partition("=")
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            if name == "client":
                client = unquote_plus(value)  # the last one wins, as in Starlette's query_params
    return client_of(ua, client).family


class Observe:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, *, access_log: bool = True, usage: UsageRecorder | None = None
    ) -> None:
        self._app = app
        self._metrics = metrics
        self._access_log = access_log
        self._usage = usage
        self._plain_routes: dict[object, list[Route]] | None = None  # built on the first request
        # Labelled children by (route, method, dialect, status): the library's `labels()` takes a lock each time.
        self._series: dict[tuple[str, str, str, str], tuple[Increments, Observes]] = {}

    def _series_of(self, route: str, method: str, dialect: str, status: str) -> tuple[Increments, Observes]:
        key = (route, method, dialect, status)
        series = self._series.get(key)
        if series is None:
            metrics = self._metrics
            series = (metrics.requests.labels(*key), metrics.request_seconds.labels(route, dialect))
            if len(self._series) < _MAX_CACHED_SERIES:  # methods come from clients: keep the cache bounded
                self._series[key] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        seen = _Seen(self, scope, send)
        try:
            await self._app(scope, receive, seen.send)
        except BaseException:
            seen.status = seen.status or 500
            raise
        finally:
            if not seen.status and (outcome := unanswered(scope)):  # 499 hung up mid-body, 408 body cut off
                seen.status, seen.log_code = outcome
            seen.complete()  # when the app never finished a response (an error, a disconnect)
            REQUEST_ID.reset(token)

    def _record(self, scope: Scope, seen: _Seen, elapsed: float) -> None:
        if self._plain_routes is None:
            self._plain_routes = routes_by_endpoint(scope.get("app"))
        route = route_label(scope, self._plain_routes)
        state: dict[str, object] = scope.get("state") or {}
        noted = state.get(DIALECT_STATE)  # a route that parsed the query named the client already
        dialect = noted if isinstance(noted, str) else dialect_of(scope)
        status = str(seen.status or 0)
        requests, seconds = self._series_of(route, scope["method"], dialect, status)
        requests.inc()
        seconds.observe(elapsed)
        metrics = self._metrics
        if seen.log_code in _REFUSALS:
            metrics.upstream_refusals.labels(seen.log_code).inc()
        if seen.status == 429:
            window = seen.limit_label()
            metrics.rate_limited.labels(window if window in _WINDOWS else "other").inc()
        if self._access_log:
            log_access(scope, route=route, dialect=dialect, status=seen.status, reason=seen.log_code, elapsed_s=elapsed)
        if self._usage is not None and route not in _NOT_USAGE and not route.startswith("/admin"):
            self._count_usage(self._usage, scope, route, seen)

    @staticmethod
    def _count_usage(usage: UsageRecorder, scope: Scope, route: str, seen: _Seen) -> None:
        """The caller's usage: every request, refusals by reason, and what a success was (few dict adds)."""
        state: dict[str, object] = scope.get("state") or {}
        key_id = state.get(KEY_ID_STATE)
        client = scope.get("client")
        caller = f"key:{key_id}" if key_id else f"anon:{client[0] if client else 'unknown'}"
        if seen.status >= 400:
            usage.count(caller, "requests", f"refused:{seen.log_code or seen.status}")
        elif route in _CONNECT_ROUTES:
            usage.count(caller, "requests", "connects", room=seen.room_id or None)
        elif route in _SIGN_ROUTES:
            usage.count(caller, "requests", "signatures")
        else:
            usage.count(caller, "requests")


class _Seen:
    """What the app sent (status, X-Log-Code, X-Room-Id and, for 429s only, the small JSON body naming the
    window), passed on to the server's `send`; the request is recorded as its answer ends. One object per
    request, its `send` a bound method: no closures to build for each request."""

    def __init__(self, observe: Observe, scope: Scope, send: Send) -> None:
        self.status = 0
        self.log_code = ""
        self.room_id = ""
        self._body = b""
        self._observe: Observe | None = observe
        self._scope = scope
        self._send = send
        self._started = time.perf_counter()

    def complete(self) -> None:
        """Record once. Called just before the last body part goes out, so a client that reads the answer
        and then scrapes /metrics always finds its own request counted."""
        if self._observe is not None:
            observe, self._observe = self._observe, None
            observe._record(self._scope, self, time.perf_counter() - self._started)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", ()):
                lower = name.lower()
                if lower == b"x-log-code":
                    self.log_code = value.decode("latin-1")
                elif lower == b"x-room-id":
                    self.room_id = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            if self.status == 429 and len(self._body) < 4096:
                self._body += message.get("body", b"")
            if not message.get("more_body", False):
                self.complete()
        await self._send(message)

    def limit_label(self) -> str:
        try:
            document = json.loads(self._body)
        except ValueError:
            return ""
        label = document.get("limit_label") if isinstance(document, dict) else None
        return label if isinstance(label, str) else ""
