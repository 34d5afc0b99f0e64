"""Fault injection: make one emulated route slow, hang, fail, reset or lie, as TikTok sometimes does.

Format (scenario key ``faults``; replaceable at runtime with ``PATCH /__emu/scenario {"faults": ...}``)::

    faults:
      im_fetch:                 # route key, see ROUTES below
        latency_ms: 250         # added before anything else (0..60000)
        times: 2                # only the first N requests to this route are faulty, then it heals (null: all)
        # at most ONE of the outcomes below:
        timeout_s: 30           # hang this long (<= 120 s, longer than client timeouts), then reset the connection
        status_5xx: 503         # answer with this 5xx status and a short JSON body
        reset: true             # reset the TCP connection (RST) without answering
        garbled_protobuf: true  # 200 application/protobuf whose bytes do not parse
        captcha_html: true      # 200 text/html captcha/WAF page instead of the expected body
        empty_200: true         # 200 with an empty body (TikTok's silent refusal)

Route keys: ``cookie`` (GET /), ``live_html`` (/@user/live), ``user_html`` (/@id), ``api_live``
(/api-live/user/room/), ``check_alive``, ``room_info``, ``gift_list``, ``im_fetch`` (/webcast/im/fetch/),
``room_chat`` (POST /webcast/room/chat/), ``stub_sign`` (the sign-server stand-in routes) and
``ws_handshake`` (the push WebSocket upgrade).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import HTMLResponse, JSONResponse, Response

RouteKey = Literal[
    "cookie",
    "live_html",
    "user_html",
    "api_live",
    "check_alive",
    "room_info",
    "gift_list",
    "im_fetch",
    "room_chat",
    "stub_sign",
    "ws_handshake",
]

# A length-delimited field 1 that claims ~2 GiB: every protobuf decoder rejects it rather than guessing.
GARBLED_PROTOBUF = b"\x0a\xff\xff\xff\xff\x07\x12\x03abc\xff"

CAPTCHA_HTML = (
    "<!DOCTYPE html><html><head><title>Security Check</title></head><body>"
    '<div id="captcha-verify-container" class="captcha_verify_container">'
    "<p>Please complete the security check to continue.</p></div></body></html>"
)

_OUTCOMES = ("timeout_s", "status_5xx", "reset", "garbled_protobuf", "captcha_html", "empty_200")


class RouteFault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(default=0, ge=0, le=60_000)
    times: int | None = Field(default=None, ge=1)
    timeout_s: float | None = Field(default=None, gt=0, le=120)
    status_5xx: int | None = Field(default=None, ge=500, le=599)
    reset: bool = False
    garbled_protobuf: bool = False
    captcha_html: bool = False
    empty_200: bool = False

    @model_validator(mode="after")
    def _one_outcome(self) -> RouteFault:
        chosen = [name for name in _OUTCOMES if getattr(self, name) not in (None, False)]
        if len(chosen) > 1:
            raise ValueError(f"choose at most one fault outcome per route, got {', '.join(chosen)}")
        return self

    @property
    def outcome(self) -> str | None:
        return next((name for name in _OUTCOMES if getattr(self, name) not in (None, False)), None)


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cookie: RouteFault | None = None
    live_html: RouteFault | None = None
    user_html: RouteFault | None = None
    api_live: RouteFault | None = None
    check_alive: RouteFault | None = None
    room_info: RouteFault | None = None
    gift_list: RouteFault | None = None
    im_fetch: RouteFault | None = None
    room_chat: RouteFault | None = None
    stub_sign: RouteFault | None = None
    ws_handshake: RouteFault | None = None

    def for_route(self, route: RouteKey) -> RouteFault | None:
        fault: RouteFault | None = getattr(self, route)
        return fault


class AbortConnection(Exception):
    """Raised by a route to have the connection reset (RST) instead of answered."""


async def apply(
    fault: RouteFault | None, hit: int, abort: Callable[[], bool], stopping: asyncio.Event | None = None
) -> tuple[str, Response | None]:
    """Run the fault for the ``hit``-th request (1-based) to a route.

    Returns ``(outcome, response)``: the outcome name for the log ("" when none applies) and the response to
    send instead of the normal one, or None to carry on normally. A reset aborts the transport through
    ``abort`` and raises AbortConnection so the caller sends nothing. Latency and hangs end early once
    ``stopping`` is set, so shutting the emulator down never waits for a fault.
    """
    if fault is None or (fault.times is not None and hit > fault.times):
        return "", None
    if fault.latency_ms:
        await _pause(fault.latency_ms / 1000, stopping)
    outcome = fault.outcome
    if outcome is None:
        return "latency" if fault.latency_ms else "", None
    if outcome == "timeout_s":
        await _pause(fault.timeout_s or 0.0, stopping)
        abort()
        raise AbortConnection(outcome)
    if outcome == "reset":
        abort()
        raise AbortConnection(outcome)
    return outcome, _response_for(fault, outcome)


async def _pause(seconds: float, stopping: asyncio.Event | None) -> None:
    """Sleep, but wake up at once when the emulator shuts down (a cancelled sleep would log a traceback)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for((stopping or asyncio.Event()).wait(), seconds)


def _response_for(fault: RouteFault, outcome: str) -> Response:
    if outcome == "status_5xx":
        status = fault.status_5xx or 503
        return JSONResponse({"status_code": status, "message": "emulated upstream failure"}, status_code=status)
    if outcome == "garbled_protobuf":
        return Response(GARBLED_PROTOBUF, media_type="application/protobuf")
    if outcome == "captcha_html":
        return HTMLResponse(CAPTCHA_HTML)
    return Response(b"", status_code=200)
