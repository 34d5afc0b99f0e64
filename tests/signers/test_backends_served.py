"""Signer backends in a running server: the remote backend against another ttsign, fallthrough, metrics by
backend, the 503 when no backend signs, and /readyz requiring a healthy backend. Real processes on
127.0.0.1, ports read back from the ready line, stopped by PID."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import Proc, serve_argv, start_emulator, stop_cleanly
from tests.signers.vendor_bundles import FIXTURES, bundle, missing
from ttsign.signers.backend import BackendRefusal, RefusalKind, SignJob
from ttsign.signers.chain import SignerChain
from ttsign.signers.remote import RemoteBackend
from ttsign.signing import VerifyPolicy, default_profile, verify_request

IM_FETCH = "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=7390000000000000001&cursor="
SECRET_KEY = "ttsign-test-remote-key-d41d8cd98f00b204"


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    emu = start_emulator(None, strict=False, tls=False)
    yield emu.url
    stop_cleanly(emu.proc)


def _serve(emulator_url: str, env: dict[str, str] | None = None) -> Proc:
    proc = Proc(serve_argv(emulator_url), name="serve", env=env).start()
    proc.wait_ready()
    return proc


@pytest.fixture(scope="module")
def remote(emulator_url: str) -> Iterator[str]:
    """Another ttsign, standing in for an Euler-compatible sign server."""
    proc = _serve(emulator_url)
    yield str(proc.ready["url"])
    stop_cleanly(proc)


def _job() -> SignJob:
    return SignJob("GET", IM_FETCH, "", default_profile(), time.time_ns() // 1_000_000)


async def test_the_remote_backend_signs_through_another_servers_sign_url(remote: str) -> None:
    backend = RemoteBackend(f"{remote}/webcast/sign_url", timeout_s=10)
    try:
        signed = (await SignerChain([backend]).sign(_job(), random.Random(1))).request
    finally:
        await backend.aclose()
    assert signed.url.startswith(IM_FETCH + "&msToken=")
    assert set(signed.tokens) == {"msToken", "X-Bogus", "X-Gnarly"}
    lenient = VerifyPolicy(check_browser_params=False)
    ua = default_profile().user_agent
    assert verify_request(signed.url, "", ua, now_ms=time.time_ns() // 1_000_000, policy=lenient).ok


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_remote_refusals_are_typed_and_never_carry_the_key(emulator_url: str) -> None:
    keyed = _serve(emulator_url, {"TTSIGN_ALLOW_ANONYMOUS": "false"})
    try:
        cases = [
            (f"{keyed.ready['url']}/webcast/sign_url", RefusalKind.REFUSED, "HTTP 401"),
            (f"http://127.0.0.1:{_closed_port()}/webcast/sign_url", RefusalKind.UNAVAILABLE, "no answer"),
        ]
        for url, kind, message in cases:
            backend = RemoteBackend(url, api_key=SECRET_KEY, timeout_s=5)
            try:
                with pytest.raises(BackendRefusal) as caught:
                    await backend.sign(_job(), random.Random(1))
            finally:
                await backend.aclose()
            assert caught.value.kind is kind and message in str(caught.value)
            assert SECRET_KEY not in str(caught.value)
    finally:
        stop_cleanly(keyed)


def _sign_url(base: str) -> httpx.Response:
    body = {"url": IM_FETCH, "userAgent": default_profile().user_agent}
    return httpx.post(f"{base}/webcast/sign_url", json=body, timeout=30)


def test_a_server_falls_through_a_broken_vendor_script_to_the_remote(emulator_url: str, remote: str) -> None:
    proc = _serve(
        emulator_url,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["vendor-script", "remote"]),
            "TTSIGN_VENDOR_SCRIPT_PATH": str(FIXTURES / "not_an_sdk.js"),
            "TTSIGN_REMOTE_SIGNER_URL": f"{remote}/webcast/sign_url",
            "TTSIGN_READY_REQUIRES_SIGNER": "true",
        },
    )
    try:
        base = str(proc.ready["url"])
        answer = _sign_url(base)
        assert answer.status_code == 200, answer.text
        assert "&X-Gnarly=" in answer.json()["response"]["signedUrl"]
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert 'ttsign_signer_backend_attempts_total{backend="vendor-script",outcome="bad_bundle"} 1.0' in metrics
        assert 'ttsign_signer_backend_attempts_total{backend="remote",outcome="signed"} 1.0' in metrics
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        assert "vendor-script: bad_bundle" in ready.json()["checks"]["signer_backends"]["detail"]
    finally:
        stop_cleanly(proc)


def test_no_backend_that_signs_is_a_503_and_not_ready(emulator_url: str) -> None:
    proc = _serve(
        emulator_url,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["vendor-script"]),
            "TTSIGN_VENDOR_SCRIPT_PATH": str(FIXTURES / "not_an_sdk.js"),
            "TTSIGN_READY_REQUIRES_SIGNER": "true",
        },
    )
    try:
        base = str(proc.ready["url"])
        answer = _sign_url(base)
        assert answer.status_code == 503
        body = answer.json()
        assert body["reason"] == "signer_unavailable" and "vendor-script: bad_bundle" in body["message"]
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["signer_backends"]["ok"] is False
    finally:
        stop_cleanly(proc)


def test_settings_refuse_a_backend_without_what_it_needs() -> None:
    proc = Proc(serve_argv(None), name="serve", env={"TTSIGN_SIGNER_BACKENDS": '["remote"]'}).start()
    with pytest.raises(Exception, match="remote_signer_url"):
        proc.wait_ready(timeout=30)
    proc.stop()


def test_the_remote_key_never_reaches_a_log_line_an_answer_or_metrics(emulator_url: str) -> None:
    keyed = _serve(emulator_url, {"TTSIGN_ALLOW_ANONYMOUS": "false"})  # refuses the unknown key: 401
    proc = _serve(
        emulator_url,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["remote"]),
            "TTSIGN_REMOTE_SIGNER_URL": f"{keyed.ready['url']}/webcast/sign_url",
            "TTSIGN_REMOTE_SIGNER_API_KEY": SECRET_KEY,
            "TTSIGN_LOG_LEVEL": "DEBUG",
        },
    )
    try:
        base = str(proc.ready["url"])
        answer = _sign_url(base)
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        stderr = stop_cleanly(proc)
        stop_cleanly(keyed)
    assert answer.status_code == 503 and "remote: refused" in answer.json()["message"]
    assert 'backend="remote",outcome="refused"' in metrics
    assert "sign_url" in stderr  # the access line was written, without the key
    assert SECRET_KEY not in stderr + answer.text + metrics


@pytest.mark.skipif(missing() is not None, reason=missing() or "")
def test_a_server_signs_with_tiktoks_own_sdk_when_told_to(emulator_url: str) -> None:
    proc = _serve(
        emulator_url,
        {
            "TTSIGN_SIGNER_BACKENDS": json.dumps(["vendor-script", "native"]),
            "TTSIGN_VENDOR_SCRIPT_PATH": str(bundle("5.1.3")),
        },
    )
    try:
        base = str(proc.ready["url"])
        answers = [_sign_url(base) for _ in range(3)]
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        stop_cleanly(proc)
    assert all(a.status_code == 200 for a in answers), answers[0].text
    assert 'ttsign_signer_backend_attempts_total{backend="vendor-script",outcome="signed"} 3.0' in metrics
    signed = answers[0].json()["response"]["signedUrl"]
    lenient = VerifyPolicy(check_browser_params=False)
    assert verify_request(
        signed, "", default_profile().user_agent, now_ms=time.time_ns() // 1_000_000, policy=lenient
    ).ok
