"""`GET /admin/api/selftest`: the drift check (`ttsign selftest`) for a logged-in operator.

Under /admin/api like the console's other calls, so the console's session cookie (path /admin) reaches it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ttsign.api.admin.guard import AdminRefused, admin_session
from ttsign.api.admin.session import AdminSession
from ttsign.api.state import services
from ttsign.signers.backend import BackendRefusal
from ttsign.signers.drift import UnreadableToken
from ttsign.signers.environments import active_environment, environment_toml
from ttsign.signers.selftest import drift_check

router = APIRouter(prefix="/admin/api", include_in_schema=False)
_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/selftest")
async def selftest(request: Request, _: Annotated[AdminSession, Depends(admin_session)]) -> JSONResponse:
    settings = services(request).settings
    if settings.vendor_script_path is None:
        raise AdminRefused(409, "no_vendor_script", "set TTSIGN_VENDOR_SCRIPT_PATH to a webmssdk.js to compare with")
    environment = active_environment(settings.signer_env_file, settings.signer_env)
    try:
        report = await drift_check(settings.vendor_script_path, environment)
    except BackendRefusal as exc:
        raise AdminRefused(503, "signer_unavailable", f"the vendor script did not sign: {exc}") from None
    except UnreadableToken as exc:
        body = {"environment": environment.name, "drifted": True, "unreadable": str(exc), "drifts": []}
        return JSONResponse(body, headers=_NO_STORE)
    body = {
        "environment": environment.name,
        "drifted": report.drifted,
        "drifts": [{"field": d.field, "native": d.native, "vendor": d.vendor} for d in report.drifts],
        "agreeing_environment_toml": environment_toml(report.agreeing) if report.drifted else None,
    }
    return JSONResponse(body, headers=_NO_STORE)
