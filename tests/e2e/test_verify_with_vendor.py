"""Issue 16 item 4: the real clients connect through ``ttsign serve`` to ``ttsign emulate --verify-with
vendor-script``, so the im/fetch ttsign signs is judged by TikTok's own webmssdk.js, not by ttsign's verifier.

TikTokLive 7.0.1 and tiktok-live-connector 2.5.0, unmodified, receive the scenario; the emulator's strict check
names the vendor checks and passed them. A server whose signer drifted from the SDK in a field ttsign's own
verifier does not check (the built-in ``xbogus-1.0.0.368`` environment writes SDK build 1.0.0.368 where the
5.1.3 SDK writes 1.0.0.328) is refused by the vendor checks alone: every native check passed.
The bundle comes from the npm package tiktok-signature@4.3.6 (scripts/e2e-deps.sh), never from the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.expected import node_events, python_events
from tests.e2e.harness import (
    FETCH_PATH_ENV,
    TTSIGN,
    ClientRun,
    EmulatorHandle,
    Proc,
    run_node_client,
    run_python_client,
    serve_argv,
    stop_cleanly,
    strict_default_scenario,
)
from tests.e2e.session_log import assert_fetch_through_ttsign, assert_push_session, of_kind
from tests.signers.vendor_bundles import bundle, missing

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(missing() is not None, reason=missing() or ""),
]

CONTACT = "e2e-operator@example.org"
VENDOR_CHECKS = {"vendor.reproduced", "vendor.x_bogus", "vendor.x_gnarly"}


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    return strict_default_scenario()


@pytest.fixture(scope="module")
def room(scenario: dict[str, Any]) -> str:
    return str(scenario["streamer"]["room_id"])


@pytest.fixture(scope="module")
def emu(scenario: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    path = tmp_path_factory.mktemp("scenario") / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    argv = [TTSIGN, "emulate", "--host", "127.0.0.1", "--port", "0", "--tls-port", "0", "--scenario", str(path)]
    argv += ["--strict", "--era", "2026-08", "--verify-with", "vendor-script", "--vendor-script", str(bundle("5.1.3"))]
    proc = Proc(argv, name="emulator").start()
    ready = proc.wait_ready()
    yield EmulatorHandle(proc, ready["url"], ready.get("tls_url"))
    assert "Traceback" not in stop_cleanly(proc)


def _server(emu: EmulatorHandle, state: Path, **env: str) -> Proc:
    settings = {**FETCH_PATH_ENV, "TTSIGN_CONTACT_EMAIL": CONTACT, "TTSIGN_STORE_PATH": str(state / "ttsign.db")}
    proc = Proc(serve_argv(emu.url), name="server", env={**settings, **env}).start()
    proc.wait_ready()
    return proc


@pytest.fixture(scope="module")
def server(emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc = _server(emu, tmp_path_factory.mktemp("server"))
    yield proc.ready["url"]
    assert "Traceback" not in stop_cleanly(proc)


@pytest.fixture(autouse=True)
def fresh(emu: EmulatorHandle, scenario: dict[str, Any]) -> None:
    httpx.post(f"{emu.url}/__emu/scenario", json=scenario, timeout=10).raise_for_status()
    httpx.delete(f"{emu.url}/__emu/log", timeout=10).raise_for_status()


def _assert_ok(run: ClientRun) -> None:
    assert run.outcome.get("ok") is True, (run.outcome, run.events, run.stderr[-3000:])
    assert run.returncode == 0


def _assert_vendor_verified(emu: EmulatorHandle, room: str) -> list[dict[str, Any]]:
    log = emu.log()
    assert_fetch_through_ttsign(log, room, contact=CONTACT)  # strict, ok, nothing failed
    (check,) = of_kind(log, "strict_check")
    assert set(check["checks"]) >= VENDOR_CHECKS, check["checks"]
    return log


def test_python_client_receives_the_scenario_judged_by_the_vendor_sdk(
    emu: EmulatorHandle, server: str, scenario: dict[str, Any], room: str
) -> None:
    run = run_python_client(emu.url, server, timeout=25)
    _assert_ok(run)
    assert run.pairs() == python_events(scenario)
    log = _assert_vendor_verified(emu, room)
    assert_push_session(log, scenario, room, client_close_code=1000)


def test_node_client_receives_the_scenario_judged_by_the_vendor_sdk(
    emu: EmulatorHandle, server: str, scenario: dict[str, Any], room: str
) -> None:
    run = run_node_client(emu.url, server, tls_url=emu.tls_url, timeout=25, extra=["--ping-ms", "200"])
    _assert_ok(run)
    assert run.pairs() == node_events(scenario)
    log = _assert_vendor_verified(emu, room)
    assert_push_session(log, scenario, room, client_close_code=1005)


def test_a_signer_drift_native_verification_cannot_see_is_refused(
    emu: EmulatorHandle, room: str, tmp_path: Path
) -> None:
    drifted = _server(emu, tmp_path, TTSIGN_SIGNER_ENV="xbogus-1.0.0.368")
    try:
        url = drifted.ready["url"]
        response = httpx.get(f"{url}/webcast/fetch", params={"room_id": room}, timeout=15)
        assert (response.status_code, response.json()["reason"]) == (502, "empty_200")
        run = run_python_client(emu.url, url, timeout=25, extra=["--room-id", room, "--no-live-check"])
        assert (run.returncode, run.outcome.get("error")) == (3, "SignAPIError"), (run.outcome, run.stderr[-3000:])
    finally:
        assert "Traceback" not in stop_cleanly(drifted)
    checks = of_kind(emu.log(), "strict_check")
    assert len(checks) == 2
    for check in checks:
        # Every native check ran and passed; only TikTok's own SDK tells the build string apart.
        assert {"x_gnarly.version", "x_gnarly.checksum", "x_bogus.query"} <= set(check["checks"])
        assert check["failed"] == ["vendor.x_gnarly"]
        assert check["details"]["vendor.x_gnarly"] == "field 10 is '1.0.0.368', the SDK writes '1.0.0.328'"
