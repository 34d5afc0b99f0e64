"""Liveness: the process answers, knows where TikTok is, and its in-flight slots are not stalled.

Being able to answer this route alone is not being alive: it skips the in-flight queue, so it would answer
while every other request waits. When requests have waited for a slot and none has finished for
`stalled_after_s`, it answers 503 `stalled`, so a supervisor or load balancer stops trusting the process.
"""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ttsign.api.in_flight import InFlightSlots
from ttsign.api.state import services
from ttsign.service.readiness import in_flight_probe

router = APIRouter()


@router.get(
    "/healthz",
    summary="Liveness: 200 while the process serves requests, 503 `stalled` when its in-flight slots are stuck",
    responses={503: {"description": "Requests wait for an in-flight slot and none has finished for a while."}},
)
async def healthz(request: Request) -> JSONResponse:
    svc = services(request)
    slots: InFlightSlots = request.app.state.in_flight
    stalled_s = slots.stalled_for(time.monotonic())
    probe = in_flight_probe(stalled_s, svc.settings.stalled_after_s)
    body: dict[str, object] = {
        "status": "ok",
        "identities": len(svc.pool),
        "upstream": svc.settings.webcast_base,
        "in_flight": slots.busy,
        "waiting": slots.waiting,
        "worker": os.getpid(),  # which process answered (`serve --workers N` shares one port)
    }
    if not probe.ok:
        body.update(status="stalled", stalled_s=round(stalled_s, 1))
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
