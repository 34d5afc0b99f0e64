"""Liveness: the process answers and knows where TikTok is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ttsign.api.state import Services, services

router = APIRouter()


@router.get("/healthz")
async def healthz(svc: Annotated[Services, Depends(services)]) -> dict[str, object]:
    return {"status": "ok", "identities": len(svc.pool), "upstream": svc.settings.webcast_base}
