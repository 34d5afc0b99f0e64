"""`GET /admin/api/selftest`: the drift check for a logged-in operator, refused to anyone else."""

from __future__ import annotations

import pytest

from tests.admin.conftest import SAME_ORIGIN, make_console
from tests.signers.vendor_bundles import bundle, missing


async def test_the_drift_check_needs_an_admin_session() -> None:
    async for console in make_console():
        answer = await console.http.get("/admin/api/selftest", headers=SAME_ORIGIN)
        assert answer.status_code == 401 and answer.json()["reason"] == "admin_login_required"


async def test_without_a_vendor_script_the_operator_is_told_what_to_set() -> None:
    async for console in make_console():
        await console.login()
        answer = await console.http.get("/admin/api/selftest", headers=SAME_ORIGIN)
        assert answer.status_code == 409 and "TTSIGN_VENDOR_SCRIPT_PATH" in answer.json()["message"]


@pytest.mark.skipif(missing() is not None, reason=missing() or "")
async def test_the_drift_check_reports_each_field_and_the_agreeing_environment() -> None:
    async for console in make_console(vendor_script_path=bundle("5.1.3"), signer_env="vendor-5.1.3-ztca"):
        await console.login()
        answer = await console.http.get("/admin/api/selftest", headers=SAME_ORIGIN)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["environment"] == "vendor-5.1.3-ztca" and body["drifted"] is True
        drifts = {d["field"]: (d["native"], d["vendor"]) for d in body["drifts"]}
        assert drifts["payload_version"] == ("5.1.3-ZTCA", "5.1.3")
        assert 'payload_version = "5.1.3"' in body["agreeing_environment_toml"]
        assert answer.headers["cache-control"] == "no-store"
