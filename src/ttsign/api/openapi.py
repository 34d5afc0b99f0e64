"""The OpenAPI document: FastAPI's, plus the connect routes, which are plain Starlette routes for speed
and so are described here by hand (parameters, the protobuf body, the headers the clients read), the ways a
caller authenticates (security schemes) and the token request body, which its route reads by hand."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ttsign.api.accounts import JwtRequest

_ERROR = {
    "type": "object",
    "required": ["code", "reason", "message"],
    "properties": {
        "code": {"type": "integer"},
        "reason": {"type": "string", "description": "Refusal or error code, also sent as X-Log-Code."},
        "message": {"type": "string"},
        "hint": {"type": "string"},
        "request_id": {"type": "string"},
        "limit_label": {"type": "string", "description": "On 429: minute, hour, day, rooms or connections."},
    },
}


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": description}


_QUERY = [
    _query("room_id", "TikTok room id (int64 digits). `0` with `unique_id` means: look the room up."),
    _query("unique_id", "Streamer's @handle, when the room id is not known."),
    _query("cursor", "The client's current cursor (passed to TikTok verbatim)."),
    _query("internal_ext", "The client's internal_ext (passed to TikTok verbatim)."),
    _query("user_agent", "Browser UA the client will use on the WebSocket; the fetch uses the same browser."),
    _query("client", "Client id (ttlive-python, ttlive-node, ttlive-java, ...); informational."),
    _query("apiKey", "API key (alternative to the X-Api-Key header)."),
    _query("session_id", "Ignored (connect never forwards a session; see session_id_policy); never logged."),
]

_SUCCESS_HEADERS = {
    "X-Set-TT-Cookie": {"schema": {"type": "string"}, "description": "`ttwid=<value>` for the WebSocket handshake."},
    "X-Room-Id": {"schema": {"type": "string"}},
    "X-Request-Id": {"schema": {"type": "string"}},
}


def _connect_operation(summary: str, description: str, path_param: bool) -> dict[str, Any]:
    parameters = list(_QUERY)
    if path_param:
        parameters = [p for p in parameters if p["name"] != "room_id"]
        parameters.insert(0, {"name": "room_id", "in": "path", "required": True, "schema": {"type": "string"}})
    error = {"content": {"application/json": {"schema": _ERROR}}}
    return {
        "get": {
            "tags": ["connect"],
            "summary": summary,
            "description": description,
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "TikTok's raw `ProtoMessageFetchResult` (not gzip-wrapped).",
                    "headers": _SUCCESS_HEADERS,
                    "content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}},
                },
                "400": {"description": "Bad input (room id, cursor, platform).", **error},
                "401": {"description": "Unknown or revoked key, bad JWT, or anonymous access off.", **error},
                "403": {"description": "JWT not scoped to this creator.", **error},
                "404": {"description": "Room not live, or not found.", **error},
                "413": {"description": "Request body too large.", **error},
                "429": {"description": "Over a limit; Retry-After and RateLimit-* headers.", **error},
                "502": {"description": "TikTok refused (empty 200, 403, captcha, bad payload...).", **error},
                "503": {"description": "Calls paused (circuit_open) or the store is down; Retry-After.", **error},
                "504": {"description": "TikTok did not answer in time.", **error},
            },
        }
    }


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": description}


_SESSION_NOTE = "never forwarded or logged; refused with 400 when session_id_policy is `refuse`, else ignored."


def _anchor_connect_operation() -> dict[str, Any]:
    """The newer SDKs' connect by streamer: the unique id in the path, no room id; their query and headers."""
    operation = _connect_operation(
        "First webcast payload of a streamer's room (EulerApiSdk 0.5.0, tiktok-live-api-sdk 0.6.0)",
        "The room is looked up from the streamer's unique id, then served as `/webcast/fetch` would.",
        path_param=False,
    )
    unique_id = {"name": "unique_id", "in": "path", "required": True, "schema": {"type": "string"}}
    kept = [p for p in operation["get"]["parameters"] if p["name"] not in ("room_id", "unique_id", "internal_ext")]
    operation["get"]["parameters"] = [
        {**unique_id, "description": "Streamer's @handle (the `@` is optional)."},
        *kept,
        _query("client_enter", "Accepted; informational."),
        _query("platform", "`web` (the default); `mobile` needs a session and is refused with 400."),
        _header("x-cookie-header", f"TikTok cookies with a session: {_SESSION_NOTE}"),
        _header("x-oauth-token", f"An Euler OAuth token standing for a session: {_SESSION_NOTE}"),
    ]
    return operation


def connect_paths() -> dict[str, Any]:
    fetch = _connect_operation(
        "First webcast payload of a room",
        "TikTokLive 4.x-7.x, Node 2.0-2.3, Java, Go, C#. Also served at `/webcast/fetch/` (no redirect).",
        path_param=False,
    )
    return {
        "/webcast/fetch": fetch,
        "/webcast/rooms/{room_id}/connect": _connect_operation(
            "First webcast payload of a room (Node 2.4+)", "The room id is in the path.", path_param=True
        ),
        "/webcast/anchors/{unique_id}/connect": _anchor_connect_operation(),
    }


# Answers any keyed route may give before its own logic runs (admission, body limit, store outage).
_COMMON_ERRORS = {
    "400": "Bad input (a malformed query, form or JSON value).",
    "401": "Unknown or revoked key, bad JWT, or anonymous access off.",
    "403": "Not allowed for this key or token.",
    "413": "Request body too large.",
    "429": "Over a limit; Retry-After and RateLimit-* headers.",
    "503": "The shared store is unreachable; Retry-After.",
}
_OPERATIONS_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def document_errors(paths: dict[str, Any]) -> None:
    """Say what the error handlers really answer: 400 (not FastAPI's 422) for validation, the common errors."""
    for path, operations in paths.items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            validation = responses.pop("422", None)
            if path in _OPERATIONS_ROUTES:
                continue
            if validation is not None and "400" not in responses:
                responses["400"] = {"description": _COMMON_ERRORS["400"]}
            for status, description in _COMMON_ERRORS.items():
                responses.setdefault(status, {"description": description})
                responses[status].setdefault("content", {"application/json": {"schema": _ERROR}})


# How callers authenticate (sign-api.md): an API key in a header or the query, or a short-lived token.
SECURITY_SCHEMES: dict[str, Any] = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "An API key."},
    "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "apiKey", "description": "The same, in the query."},
    "JwtKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-jwt-key",
        "description": "A short-lived token from POST /accounts/me/jwt (browser apps).",
    },
}
_API_KEY_ONLY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"ApiKeyQuery": []}]
# `{}`: no credentials at all is also accepted (anonymous access, when the server allows it).
_ANY_CALLER: list[dict[str, list[str]]] = [*_API_KEY_ONLY, {"JwtKey": []}, {}]
_MINT_PATH = "/accounts/me/jwt"


def document_security(paths: dict[str, Any]) -> None:
    """Which credentials each operation takes: none for operations routes, the API key itself to mint a
    token, otherwise a key, a token or nothing (anonymous)."""
    for path, operations in paths.items():
        for operation in operations.values():
            if path in _OPERATIONS_ROUTES:
                operation["security"] = []
            elif path == _MINT_PATH:
                operation["security"] = _API_KEY_ONLY
            else:
                operation["security"] = _ANY_CALLER


def document_jwt_body(paths: dict[str, Any]) -> None:
    """The token request's JSON body, from the model the route validates it with (it reads the body itself,
    so an empty body keeps meaning "the defaults")."""
    operation = paths.get(_MINT_PATH, {}).get("post")
    if operation is not None:
        operation["requestBody"] = {
            "required": False,
            "description": "Token lifetime and scope; snake_case names are accepted too. Empty: the defaults.",
            "content": {"application/json": {"schema": JwtRequest.model_json_schema()}},
        }


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            schema["paths"] = {**connect_paths(), **schema["paths"]}
            document_errors(schema["paths"])
            document_security(schema["paths"])
            document_jwt_body(schema["paths"])
            schema["components"] = {**schema.get("components", {}), "securitySchemes": SECURITY_SCHEMES}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
