"""Operations routes: readiness (`/readyz`) and Prometheus metrics (`/metrics`). Liveness is in health.py.

Neither needs a key, and neither says anything secret: readiness names its probes, metrics carry only
closed-set labels. Metrics have a router of their own: settings turn them off or move them to the admin
listener (admin_port.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ttsign.api.errors import LOG_CODE_HEADER, REQUEST_ID_HEADER, new_request_id
from ttsign.api.state import Services, services
from ttsign.background import running_in_background
from ttsign.metrics import CONTENT_TYPE, Metrics
from ttsign.service.readiness import in_flight_probe, readiness

router = APIRouter(tags=["operations"])
metrics_router = APIRouter(tags=["operations"])

_READY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ready", "not_ready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "object"}},
        "code": {"type": "integer"},
        "reason": {"type": "string"},
        "message": {"type": "string"},
        "request_id": {"type": "string"},
    },
}
_REFRESH_S = 5.0


def metrics_of(request: Request) -> Metrics:
    found = request.app.state.metrics
    assert isinstance(found, Metrics)
    return found


@router.get(
    "/readyz",
    summary="Readiness: store reachable, signer self-test passing (503 JSON when not ready)",
    responses={
        200: {"content": {"application/json": {"schema": _READY_SCHEMA}}},
        503: {"description": "Not ready.", "content": {"application/json": {"schema": _READY_SCHEMA}}},
    },
)
async def readyz(request: Request) -> JSONResponse:
    svc = services(request)
    probes = await readiness(
        svc.store,
        svc.connect.default_profile,
        svc.connect.breakers,
        check_upstream=svc.settings.ready_requires_upstream,
        in_flight=in_flight_probe(
            request.app.state.in_flight.stalled_for(time.monotonic()), svc.settings.stalled_after_s
        ),
        signers=svc.signers,
        check_signers=svc.settings.ready_requires_signer,
    )
    checks = {p.name: {"ok": p.ok, **({"detail": p.detail} if p.detail else {})} for p in probes}
    request_id = new_request_id()
    if all(p.ok for p in probes):
        return JSONResponse({"status": "ready", "checks": checks}, headers={REQUEST_ID_HEADER: request_id})
    failing = ", ".join(p.name for p in probes if not p.ok)
    body = {
        "status": "not_ready",
        "checks": checks,
        "code": 503,
        "reason": "not_ready",
        "message": f"not ready: {failing}",
        "request_id": request_id,
    }
    headers = {REQUEST_ID_HEADER: request_id, LOG_CODE_HEADER: "not_ready", "Retry-After": "1"}
    return JSONResponse(body, status_code=503, headers=headers)


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    metrics = metrics_of(request)
    refresh_gauges(services(request), metrics)
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)


def refresh_gauges(svc: Services, metrics: Metrics) -> None:
    """Point-in-time values (pool size, open breakers) sampled rather than counted."""
    metrics.identity_pool_size.set(len(svc.pool))
    breakers = svc.connect.breakers
    if breakers is not None:
        metrics.breakers_open.labels("room").set(breakers.rooms.open_count())
        metrics.breakers_open.labels("identity").set(breakers.identities.open_count())


@contextlib.asynccontextmanager
async def gauge_refresher(app: FastAPI) -> AsyncIterator[None]:
    """Keep this worker's gauges fresh even when scrapes land on another worker (multiprocess mode)."""

    async def loop() -> None:
        while True:
            refresh_gauges(app.state.services, app.state.metrics)
            await asyncio.sleep(_REFRESH_S)

    async with running_in_background(loop()):
        yield
