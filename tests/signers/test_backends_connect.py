"""Connects sign through the configured signer backends too (issue 13): the socket query and im/fetch are
signed by the first backend that can, a broken backend falls through, and a backend whose signature TikTok
refuses falls through to the next within the same connect, and is blamed only because the next one's was
accepted. Real processes on 127.0.0.1 (`ttsign serve`, `ttsign emulate`), stopped by PID."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.harness import EmulatorHandle, Proc, serve_argv, start_emulator, stop_cleanly, strict_default_scenario
from tests.signers.vendor_bundles import FIXTURES, bundle, missing
from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult
from ttsign.signing import default_profile, xgnarly

ROOM = "7390000000000000001"
IM_FETCH = "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=7390000000000000001&cursor="
FULL = json.dumps({"im_fetch": ["msToken", "X-Bogus", "X-Gnarly"]})


def _outdated(upstream: str) -> Proc:
    """Another ttsign still signing X-Gnarly 5.1.1, standing in for a remote signer; it signs for the emulator
    (on 127.0.0.1, so that host is allowed, as an operator of a test rig would allow it)."""
    return _serve(upstream, {"TTSIGN_SIGNER_ENV": "legacy-5.1.1", "TTSIGN_SIGN_ALLOWED_HOSTS": '["127.0.0.1"]'})


def _serve(upstream: str, env: dict[str, str]) -> Proc:
    proc = Proc(serve_argv(upstream), name="serve", env=env).start()
    proc.wait_ready()
    return proc


def _attempts(metrics: str) -> dict[tuple[str, str], float]:
    """ttsign_signer_backend_attempts_total by (backend, outcome)."""
    pattern = r'ttsign_signer_backend_attempts_total\{backend="([^"]+)",outcome="([^"]+)"\} ([0-9.e+]+)'
    return {(backend, outcome): float(value) for backend, outcome, value in re.findall(pattern, metrics)}


def _connect(base: str) -> httpx.Response:
    return httpx.get(f"{base}/webcast/fetch", params={"room_id": ROOM, "client": "ttlive-python"}, timeout=30)


def _connect_once(upstream: str, env: dict[str, str]) -> tuple[httpx.Response, dict[tuple[str, str], float]]:
    """One connect through a server started with `env`: its answer and its signer backend attempts."""
    proc = _serve(upstream, env)
    try:
        answer = _connect(str(proc.ready["url"]))
        return answer, _attempts(httpx.get(f"{proc.ready['url']}/metrics", timeout=10).text)
    finally:
        stop_cleanly(proc)


@pytest.fixture(scope="module")
def modern() -> Iterator[str]:
    """TikTok since 2026-09 (the socket checked strictly), every cookie page minting a ttwid."""
    scenario: dict[str, Any] = {**strict_default_scenario(), "era_2026_09": {"ttwid_mint_fraction": 1}}
    emu = start_emulator(scenario, tls=False)
    yield emu.url
    stop_cleanly(emu.proc)


def test_a_broken_first_backend_falls_through_to_native_for_the_socket_query(modern: str) -> None:
    answer, attempts = _connect_once(
        modern,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["vendor-script", "native"]),
            "TTSIGN_VENDOR_SCRIPT_PATH": str(FIXTURES / "not_an_sdk.js"),
        },
    )
    assert answer.status_code == 200 and answer.headers["x-ttsign-strategy"] == "direct", answer.text
    assert attempts[("vendor-script", "bad_bundle")] >= 1
    assert attempts[("native", "signed")] >= 1  # the socket's X-Gnarly


def test_no_backend_that_signs_the_socket_query_is_a_typed_refusal_not_a_500(modern: str) -> None:
    answer, _ = _connect_once(
        modern,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["vendor-script"]),
            "TTSIGN_VENDOR_SCRIPT_PATH": str(FIXTURES / "not_an_sdk.js"),
            "TTSIGN_CONNECT_STRATEGIES": json.dumps(["direct"]),
        },
    )
    assert answer.status_code == 503, answer.text
    assert answer.json()["reason"] == "signer_unavailable"
    assert "vendor-script: bad_bundle" in answer.json()["message"]


@pytest.mark.skipif(missing() is not None, reason=missing() or "")
def test_the_vendor_sdk_signs_the_socket_query_when_it_comes_first(modern: str) -> None:
    answer, attempts = _connect_once(
        modern,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["vendor-script", "native"]),
            "TTSIGN_VENDOR_SCRIPT_PATH": str(bundle("5.1.3")),
        },
    )
    assert answer.status_code == 200 and answer.headers["x-ttsign-strategy"] == "direct", answer.text
    assert attempts.get(("vendor-script", "signed"), 0) >= 1
    assert ("native", "signed") not in attempts


def test_a_remote_signer_declines_the_socket_query_and_keeps_signing_the_rest(modern: str) -> None:
    # A sign_url route signs http(s) requests only: the socket query goes to native, with no strike against
    # the remote (a breaker that opens on the first strike stays closed), which still signs sign_url.
    remote = _serve(modern, {})
    proc = _serve(
        modern,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["remote", "native"]),
            "TTSIGN_REMOTE_SIGNER_URL": f"{remote.ready['url']}/webcast/sign_url",
            "TTSIGN_BREAKER_FAILURE_THRESHOLD": "1",
        },
    )
    try:
        base = str(proc.ready["url"])
        answer = _connect(base)
        body = {"url": IM_FETCH, "userAgent": default_profile().user_agent}
        signed = httpx.post(f"{base}/webcast/sign_url", json=body, timeout=30)
        attempts = _attempts(httpx.get(f"{base}/metrics", timeout=10).text)
    finally:
        stop_cleanly(proc)
        stop_cleanly(remote)
    assert answer.status_code == 200 and answer.headers["x-ttsign-strategy"] == "direct", answer.text
    assert attempts[("remote", "unsupported")] >= 1 and attempts[("native", "signed")] >= 1
    assert signed.status_code == 200, signed.text
    assert attempts[("remote", "signed")] == 1 and ("remote", "circuit_open") not in attempts


@pytest.fixture(scope="module")
def moved_on() -> Iterator[str]:
    """TikTok before 2026-09 (im/fetch verified strictly) that no longer accepts X-Gnarly 5.1.1."""
    scenario = {**strict_default_scenario(), "strict": {"gnarly_versions": ["5.1.3"]}}
    emu = start_emulator(scenario, tls=False, era="2026-08")
    yield emu.url
    stop_cleanly(emu.proc)


def _connect_through_outdated_remote(upstream: str, env: dict[str, str]) -> tuple[httpx.Response, dict[Any, float]]:
    """A connect through a server whose first backend is an outdated remote and whose only strategy is a
    fully signed im/fetch; its answer and its backend attempts."""
    outdated = _outdated(upstream)
    try:
        return _connect_once(
            upstream,
            {
                "TTSIGN_SIGNER_BACKENDS": json.dumps(["remote", "native"]),
                "TTSIGN_REMOTE_SIGNER_URL": f"{outdated.ready['url']}/webcast/sign_url",
                "TTSIGN_CONNECT_STRATEGIES": json.dumps(["fetch"]),
                "TTSIGN_SIGNATURES_BY_ENDPOINT": FULL,
                **env,
            },
        )
    finally:
        stop_cleanly(outdated)


def test_a_signature_tiktok_refuses_falls_through_to_the_next_backend_in_the_same_connect(moved_on: str) -> None:
    # The remote's signatures are well formed (the chain's own check passes them) but this TikTok refuses
    # them, as TikTok refuses an outdated signer.
    answer, attempts = _connect_through_outdated_remote(moved_on, {})
    assert answer.status_code == 200 and answer.headers["x-ttsign-strategy"] == "fetch", answer.text
    assert attempts.get(("remote", "signed")) == 1, attempts
    assert attempts[("remote", "signature_refused")] == 1  # blamed: native's signature was accepted
    assert attempts[("native", "signed")] == 1


def test_when_every_backends_signature_is_refused_none_is_blamed(moved_on: str) -> None:
    answer, attempts = _connect_through_outdated_remote(moved_on, {"TTSIGN_SIGNER_ENV": "legacy-5.1.1"})
    assert answer.status_code >= 400 and answer.json()["reason"] == "empty_200", answer.text
    assert attempts[("remote", "signed")] >= 1 and attempts[("native", "signed")] >= 1  # native outdated too
    assert not [key for key in attempts if key[1] == "signature_refused"]


@pytest.fixture
def socket_moved_on() -> Iterator[EmulatorHandle]:
    """TikTok since 2026-09 whose push socket no longer accepts an X-Gnarly other than 5.1.3."""
    scenario = strict_default_scenario()
    scenario["websocket"]["strict"]["require_route_params_echo"] = False  # no im/fetch gave a direct socket any
    scenario["era_2026_09"] = {"ttwid_mint_fraction": 1, "socket_gnarly_versions": ["5.1.3"]}
    emu = start_emulator(scenario, tls=False)
    yield emu
    stop_cleanly(emu.proc)


def _probing_connect(emu: EmulatorHandle, env: dict[str, str]) -> tuple[httpx.Response, dict[Any, float]]:
    """A direct-only connect with the socket probe on, the webmssdk 2.0.0.485 build (X-Gnarly 5.1.3-ZTCA) signing
    first and native second: its answer and its backend attempts."""
    return _connect_once(
        emu.url,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["vendor-script", "native"]),
            "TTSIGN_VENDOR_SCRIPT_PATH": str(bundle("2.0.0.485")),
            "TTSIGN_CONNECT_STRATEGIES": json.dumps(["direct"]),
            "TTSIGN_DIRECT_SOCKET_PROBE": "true",
            **env,
        },
    )


@pytest.mark.skipif(missing("2.0.0.485") is not None, reason=missing("2.0.0.485") or "")
def test_a_socket_signature_the_probe_sees_refused_falls_through_to_the_next_backend(
    socket_moved_on: EmulatorHandle,
) -> None:
    answer, attempts = _probing_connect(socket_moved_on, {})
    assert answer.status_code == 200 and answer.headers["x-ttsign-strategy"] == "direct", answer.text
    assert attempts[("vendor-script", "signature_refused")] == 1  # blamed: native's socket was accepted
    assert attempts[("native", "signed")] >= 1
    (rejected,) = socket_moved_on.log("ws_reject")  # the probe's first socket, with the vendor's X-Gnarly
    assert rejected["failed"] == ["x_gnarly_version"]
    # The client is handed the address whose socket was accepted: native's X-Gnarly.
    gnarly = dict(ProtoMessageFetchResult.FromString(answer.content).route_params)["X-Gnarly"]
    assert xgnarly.decode(gnarly).fields[9] == "5.1.3"


@pytest.mark.skipif(missing("2.0.0.485") is not None, reason=missing("2.0.0.485") or "")
def test_when_every_backends_socket_signature_is_refused_none_is_blamed(socket_moved_on: EmulatorHandle) -> None:
    answer, attempts = _probing_connect(socket_moved_on, {"TTSIGN_SIGNER_ENV": "legacy-5.1.1"})
    assert answer.status_code >= 400 and answer.json()["reason"] == "empty_200", answer.text
    assert not [key for key in attempts if key[1] == "signature_refused"]
    assert [entry["failed"] for entry in socket_moved_on.log("ws_reject")] == [["x_gnarly_version"]] * 2
