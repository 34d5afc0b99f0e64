"""Credentials and client dialect from a request, and rate-limit / auth answers each client understands.

429 headers, from what the clients read (sign-api.md §2.3, §8):
- `Retry-After` (seconds): Node 2.x.
- `RateLimit-Remaining`: TikTokLive 6.5+ prints it as "try again in N seconds", so it carries the retry
  delay in seconds (not the IETF draft's request count), and it must be an integer or the client crashes.
- `RateLimit-Reset`: unix time for TikTokLive 6.5+ (its `reset_time`), seconds for 4.5-6.4 (its retry).
- `X-RateLimit-Reset` (unix seconds): Node 2.x and TikTokLive 4.5-6.4.
The JSON body always has `code`, `message` and `limit_label` (TikTokLive 6.1 indexes it unconditionally).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote_plus

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from ttsign.api.errors import LOG_CODE_HEADER, REQUEST_ID_HEADER
from ttsign.service.admission import Credentials, Denied

_PY_CLIENT = re.compile(r"TikTokLive\.py/(\d+)\.(\d+)")


@dataclass(frozen=True)
class ClientInfo:
    """Which client library is calling, from its User-Agent and `client` parameter."""

    family: str  # python | node | java | other
    version: tuple[int, int] | None = None

    @property
    def is_node(self) -> bool:
        return self.family == "node"


# TikTokLive 4.5-6.4 call the sign server through their TikTok HTTP client: a browser User-Agent and the
# whole TikTok query, with `client=ttlive-python`. They read `RateLimit-Reset` as a delay in seconds.
LEGACY_PYTHON = (6, 4)


def header(request: Request, name: bytes) -> str:
    """The first value of a header, by its lower-case name (as ASGI servers hand names over), or "".

    Starlette's `request.headers.get` builds a `Headers` view and finds a missing header by raising and
    catching KeyError; the hot routes ask for several headers that are usually absent (keys, JWTs).
    """
    return scope_header(request.scope, name)


def scope_header(scope: Scope, name: bytes) -> str:
    """`header` on a raw ASGI scope (for middleware that has no Request)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def query(request: Request) -> dict[str, str]:
    """The query parameters as a plain dict, the last value of a repeated name winning as in
    `request.query_params.get`, for routes that look up several names that are usually absent.

    Decoded as Starlette's parse_qsl(keep_blank_values=True) decodes them, but a name or value with nothing
    encoded is taken as it is, and a connect's `user_agent` (a long percent-encoded browser string, one of a
    handful per server) is decoded once: parse_qsl over it was a fifth of a direct connect's handling.
    """
    params: dict[str, str] = {}
    for pair in request.scope["query_string"].decode("latin-1").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = _user_agent(value) if name == "user_agent" else unquote_plus(value)
        params[name] = value
    return params


# Bounded: a few distinct browsers in practice; User-Agents are no secret (keys and session ids never come here).
_user_agent = lru_cache(maxsize=256)(unquote_plus)


def client_info(request: Request) -> ClientInfo:
    return client_of(header(request, b"user-agent"), request.query_params.get("client", ""))


@lru_cache(maxsize=1024)  # a handful of distinct (User-Agent, client) pairs in practice; bounded if not
def client_of(ua: str, client: str) -> ClientInfo:
    """The client library behind a User-Agent and a `client` query parameter."""
    match = _PY_CLIENT.search(ua)
    if match:
        return ClientInfo("python", (int(match.group(1)), int(match.group(2))))
    if client == "ttlive-python" and ua.startswith("Mozilla/"):
        return ClientInfo("python", LEGACY_PYTHON)
    if ua.startswith("tiktok-live-connector") or client == "ttlive-node":
        return ClientInfo("node")
    if client == "ttlive-java":
        return ClientInfo("java")
    if client == "ttlive-python":
        return ClientInfo("python")
    return ClientInfo("other")


_CREDENTIAL_HEADERS = frozenset({b"x-api-key", b"x-jwt-key"})


def credentials(request: Request, params: Mapping[str, str] | None = None) -> Credentials:
    """X-Api-Key header, else the apiKey query parameter; x-jwt-key header. Empty means anonymous.
    `params`: the request's `query`, when the route parsed it already."""
    found: dict[bytes, str] = {}
    for name, value in request.scope["headers"]:  # both headers in one pass; the first of each counts
        if name in _CREDENTIAL_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    key, jwt = found.get(b"x-api-key", "").strip(), found.get(b"x-jwt-key", "").strip()
    if not key:
        key = (query(request) if params is None else params).get("apiKey", "").strip()
    return Credentials(api_key=key, jwt=jwt)


def client_ip(request: Request) -> str:
    # The connecting peer; only when that peer is one of `trusted_proxies` does uvicorn (configured in
    # server.py) replace it with the client named in X-Forwarded-For. Nobody else can choose their address.
    # Read from the scope: `request.client` builds an Address tuple for it on every call.
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


def denied_response(
    denied: Denied, request_id: str, client: ClientInfo, now: float, extra: Mapping[str, object] | None = None
) -> JSONResponse:
    """The refusal in the error shape every dialect shares; `extra` adds the dialect's own empty result fields."""
    body: dict[str, object] = {"code": denied.status, "message": denied.message, "reason": denied.reason}
    headers = {REQUEST_ID_HEADER: request_id, LOG_CODE_HEADER: denied.reason}
    if denied.status == 429:
        retry = max(1, denied.retry_after_s)
        reset_at = denied.reset_at or int(now) + retry
        body["limit_label"] = denied.limit_label or "minute"
        legacy_python = client.family == "python" and client.version is not None and client.version < (6, 5)
        headers.update(
            {
                "Retry-After": str(retry),
                "RateLimit-Remaining": str(retry),
                "RateLimit-Reset": str(retry if legacy_python else reset_at),
                "X-RateLimit-Reset": str(reset_at),
            }
        )
    if denied.status == 503:  # the shared store is down: worth retrying soon
        headers["Retry-After"] = str(max(1, denied.retry_after_s))
    return JSONResponse({**body, **(extra or {})}, status_code=denied.status, headers=headers)
