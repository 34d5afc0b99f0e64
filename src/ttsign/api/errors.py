"""Every non-success answer of the API: one JSON shape, the refusal → status mapping, exception handlers.

Clients print these bodies verbatim (TikTokLive: "status code N and the following payload"), so they say
what went wrong and what to try. Nothing here ever returns a traceback.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ttsign.logs import REQUEST_ID
from ttsign.randomness import fresh_request_id
from ttsign.service.rooms import InvalidInput
from ttsign.signers.backend import NoBackendSigned
from ttsign.store.base import StoreUnavailable
from ttsign.upstream.refusals import Refusal, RefusalCode

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
LOG_CODE_HEADER = "X-Log-Code"

_ROOM_STATUS = {
    RefusalCode.ROOM_NOT_LIVE: 404,
    RefusalCode.ROOM_NOT_FOUND: 404,
    RefusalCode.TIMEOUT: 504,
    RefusalCode.CIRCUIT_OPEN: 503,  # ttsign itself paused the calls: unavailable for now, not a bad gateway
    RefusalCode.SIGNER_UNAVAILABLE: 503,  # ttsign's own signers failed: TikTok was not asked
}


def new_request_id() -> str:
    """The id of the request being handled (set by the Observe middleware, so logs carry the same one)."""
    return REQUEST_ID.get() or fresh_request_id()


def request_id_of(request: Request) -> str:
    """The id chosen for this request by its handler, or a fresh one for requests no handler saw."""
    existing = getattr(request.state, "request_id", None)
    return existing if isinstance(existing, str) else new_request_id()


def error_response(
    status: int,
    reason: str,
    message: str,
    request_id: str,
    *,
    hint: str = "",
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {"code": status, "reason": reason, "message": message, "request_id": request_id}
    if hint:
        body["hint"] = hint
    all_headers = {REQUEST_ID_HEADER: request_id, LOG_CODE_HEADER: reason, **(headers or {})}
    return JSONResponse(body, status_code=status, headers=all_headers)


def refusal_status(refusal: Refusal) -> int:
    """TikTok refusals are a bad gateway; a slow TikTok a gateway timeout; a room's state its own 404."""
    return _ROOM_STATUS.get(refusal.code, 502)


def log_refusal_cause(refusal: Refusal, request_id: str) -> None:
    """The transport's own words stay in the server log, found by the request id the caller was given."""
    if refusal.cause:
        logger.warning("request %s: %s: %s", request_id, refusal.code, refusal.cause)


def refusal_response(refusal: Refusal, request_id: str) -> JSONResponse:
    log_refusal_cause(refusal, request_id)
    headers = {"Retry-After": str(max(1, math.ceil(refusal.retry_after_s)))} if refusal.retry_after_s else None
    return error_response(
        refusal_status(refusal), str(refusal.code), refusal.message, request_id, hint=refusal.hint, headers=headers
    )


def invalid_input_response(error: InvalidInput, request_id: str) -> JSONResponse:
    return error_response(400, "bad_request", str(error), request_id)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    reasons = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    reason = reasons.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else reason
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    return error_response(exc.status_code, reason, message, request_id_of(request), headers=exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Name the fields, never echo the values: a query may carry a session id.
    problems = [f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}" for err in exc.errors()]
    return error_response(400, "bad_request", "; ".join(problems) or "invalid request", request_id_of(request))


async def _on_invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    return invalid_input_response(exc, request_id_of(request))


async def _on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Fast and explicit: the shared store (Redis) is down, the process is fine and retrying soon will work.
    logger.warning("request %s: store unavailable: %s", request_id_of(request), exc)
    message = "the shared store (Redis) is unreachable; try again shortly"
    return error_response(503, "store_unavailable", message, request_id_of(request), headers={"Retry-After": "1"})


async def _on_no_signer(request: Request, exc: Exception) -> JSONResponse:
    # Every configured signer backend refused (workers down, remote unreachable, breakers open): say which.
    assert isinstance(exc, NoBackendSigned)
    reasons = ", ".join(f"{r.backend}: {r.kind}" for r in exc.refusals)
    message = f"no signer backend could sign ({reasons}); try again shortly"
    return error_response(503, "signer_unavailable", message, request_id_of(request), headers={"Retry-After": "1"})


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request_id_of(request)
    logger.error("request %s failed: %s", request_id, type(exc).__name__, exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the server log", request_id)


# Most specific first: `exception_response` takes the first match, as Starlette does by class hierarchy.
_HANDLERS: tuple[tuple[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]], ...] = (
    (StarletteHTTPException, _on_http_exception),
    (RequestValidationError, _on_validation_error),
    (InvalidInput, _on_invalid_input),
    (StoreUnavailable, _on_store_unavailable),
    (NoBackendSigned, _on_no_signer),
    (Exception, _on_unexpected),
)


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, handler in _HANDLERS:
        app.add_exception_handler(exc_type, handler)


async def exception_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer the app's installed handlers give for `exc`, for routes served outside FastAPI's layers."""
    handler = next(handler for exc_type, handler in _HANDLERS if isinstance(exc, exc_type))
    return await handler(request, exc)
