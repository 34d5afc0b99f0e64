"""What the relay's endpoints share: admitting a consumer (keys, limits, JWT scope, socket caps) and the
JSON bundles Euler's WebSocket API sends (`{timestamp, messages:[{type, data}]}`)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from ttsign.api.state import Services
from ttsign.relay import CloseCode, ConsumerOptions, Ending, Joined, Relay
from ttsign.relay.events import Event
from ttsign.relay.hub import Cap
from ttsign.service.admission import Caller, Credentials, Denied

# Denied statuses as Euler close codes (401 bad key or token, 403 out of the token's scope, 429 a limit).
_DENIED = {401: CloseCode.INVALID_AUTH, 403: CloseCode.NO_PERMISSION, 429: CloseCode.TOO_MANY_CONNECTIONS}
# Close codes as HTTP statuses, for the endpoints that answer before streaming (/events).
HTTP_STATUS = {
    CloseCode.INVALID_OPTIONS: 400,
    CloseCode.INVALID_AUTH: 401,
    CloseCode.NO_PERMISSION: 403,
    CloseCode.NOT_LIVE: 404,
    CloseCode.TOO_MANY_CONNECTIONS: 429,
    CloseCode.INTERNAL_ERROR: 503,
}
REASON_CODES = {
    CloseCode.INVALID_OPTIONS: "invalid_options",
    CloseCode.INVALID_AUTH: "invalid_auth",
    CloseCode.NO_PERMISSION: "no_permission",
    CloseCode.NOT_LIVE: "room_not_live",
    CloseCode.TOO_MANY_CONNECTIONS: "too_many_connections",
    CloseCode.WEBCAST_FETCH_ERROR: "upstream_error",
    CloseCode.TIKTOK_CLOSED_CONNECTION: "tiktok_closed",
    CloseCode.INTERNAL_ERROR: "unavailable",
}


@dataclass(frozen=True)
class Refused:
    """A consumer turned away: the close code, and the message a person can act on."""

    code: CloseCode
    message: str
    reason: str = ""


def relay_of(connection: HTTPConnection) -> Relay:
    found = connection.app.state.relay
    assert isinstance(found, Relay)
    return found


def _credentials(connection: HTTPConnection, options: ConsumerOptions) -> Credentials:
    # Browsers cannot set headers on a WebSocket: the query carries the key; a header works too.
    api_key = options.api_key or connection.headers.get("x-api-key", "").strip()
    jwt_key = options.jwt_key or connection.headers.get("x-jwt-key", "").strip()
    return Credentials(api_key=api_key, jwt=jwt_key)


def caps_of(caller: Caller, per_key: int) -> list[Cap]:
    """Concurrent sockets: `per_key` per key (or anonymous address), and a token's own maxWebSockets."""
    caps: list[Cap] = [(caller.label, per_key)]
    if caller.grant is not None and caller.grant.max_connections is not None:
        caps.append((f"jwt:{caller.grant.token_id}", caller.grant.max_connections))
    return caps


async def admit_consumer(connection: HTTPConnection, svc: Services, options: ConsumerOptions) -> Joined | Refused:
    ip = connection.client.host if connection.client else "unknown"
    # defer_scope: the scope is checked below without spending one of the token's connects; its
    # maxWebSockets counts the sockets open at once (caps_of), as Euler's does.
    credentials = _credentials(connection, options)
    admitted = await svc.admission.admit(credentials, ip, unique_id=options.unique_id, defer_scope=True)
    if isinstance(admitted, Denied):
        return Refused(_DENIED.get(admitted.status, CloseCode.INTERNAL_ERROR), admitted.message, admitted.reason)
    denied = await svc.admission.check_scope(admitted.caller, room_id=None, unique_id=options.unique_id)
    if denied is not None:
        return Refused(_DENIED.get(denied.status, CloseCode.INTERNAL_ERROR), denied.message, denied.reason)
    caps = caps_of(admitted.caller, svc.settings.relay_max_sockets_per_key)
    joined = await relay_of(connection).join(options.unique_id, label=admitted.caller.label, caps=caps)
    if isinstance(joined, Ending):
        return Refused(joined.code, joined.detail, REASON_CODES.get(joined.code, ""))
    return joined


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def bundle(events: Iterable[Event], timestamp_ms: int | None = None) -> str:
    document = {"timestamp": timestamp_ms if timestamp_ms is not None else now_ms(), "messages": list(events)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def greeting(options: ConsumerOptions, joined: Joined) -> list[str]:
    """The first frames: workerInfo, then roomInfo, then the state a late joiner needs (the viewer count)."""
    worker = {
        "type": "workerInfo",
        "data": {
            "webSocketId": secrets.token_hex(8),
            "schemaVersion": "v2",
            "features": options.features.as_json(),
        },
    }
    room = {
        "type": "roomInfo",
        "data": {"roomId": joined.room.room_id, "uniqueId": joined.room.unique_id, "isLive": True},
    }
    frames = [bundle([worker]), bundle([room])]
    if joined.replay:
        frames.append(bundle(joined.replay))
    return frames
