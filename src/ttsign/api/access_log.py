"""The access line: one INFO log line per request, as JSON fields, written by the Observe middleware.

Fields: method, route (the template, never the raw path or query, which may carry keys or session ids),
dialect, status, reason (the X-Log-Code the app answered with), ms, key_id (the admitted caller's public
key id, never the key), client (the peer address, as uvicorn's proxy settings resolved it), strategy (how
a connect was served, once the connect service says) and request_id. Absent values are null, so every line
has the same shape.

The handlers tell this line what only they know through the request's state (`request.state`, which is the
ASGI scope's "state" dict that Observe reads back): `note_caller` after admission, `note_strategy` when a
connect names the strategy that served it.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import Scope

from ttsign.api.access import ClientInfo
from ttsign.logs import FIELDS
from ttsign.service.admission import Caller

logger = logging.getLogger("ttsign.access")

KEY_ID_STATE = "key_id"
STRATEGY_STATE = "strategy"
DIALECT_STATE = "dialect"


def _state(request: Request) -> dict[str, object]:
    """The scope's state dict itself, which `request.state` wraps: written here without the wrapper's two
    Python-level calls per value (the hot routes note two or three values on every request)."""
    state: dict[str, object] = request.scope.setdefault("state", {})
    return state


def note_caller(request: Request, caller: Caller) -> None:
    """Remember the admitted caller's key id (anonymous callers have none) for the access line."""
    if caller.key is not None:
        _state(request)[KEY_ID_STATE] = caller.key.key_id


def note_dialect(request: Request, client: ClientInfo) -> None:
    """Name the calling client's family for the access line and the metrics' `dialect` label, when the route
    has parsed the query already: Observe then need not parse it again for the `client` parameter."""
    _state(request)[DIALECT_STATE] = client.family


def note_strategy(request: Request, strategy: str) -> None:
    """Remember which connect strategy (direct, fetch, ...) served the request, for the access line."""
    _state(request)[STRATEGY_STATE] = strategy


def log_access(scope: Scope, *, route: str, dialect: str, status: int, reason: str, elapsed_s: float) -> None:
    """Write the access line of a finished request (nothing when the access logger is below INFO)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    state: dict[str, object] = scope.get("state") or {}
    client = scope.get("client")
    ms = round(elapsed_s * 1000, 2)
    fields = {
        "method": scope.get("method"),
        "route": route,
        "dialect": dialect,
        "status": status,
        "reason": reason or None,
        "ms": ms,
        "key_id": state.get(KEY_ID_STATE),
        "client": client[0] if client else None,
        "strategy": state.get(STRATEGY_STATE),
        "request_id": state.get("request_id"),
    }
    # makeRecord + handle, not logger.info: info() also walks the stack for the caller's file and line,
    # which no format prints, and that walk is a tenth of the line's cost.
    args = (fields["method"], route, status, ms)
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 0, "%s %s %s %s ms", args, None, extra={FIELDS: fields}
    )
    logger.handle(record)
