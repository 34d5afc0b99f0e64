"""The vendor-script backend: TikTok's own webmssdk 5.1.3 in Node workers, and the typed refusals."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.signers.vendor_bundles import FIXTURES, bundle, missing
from ttsign.signers.backend import BackendRefusal, RefusalKind, SignJob
from ttsign.signers.vendor_script import VendorScriptBackend, VendorScriptOptions
from ttsign.signing import VerifyPolicy, default_profile, profile_from_user_agent, verify_request, xgnarly
from ttsign.signing import url as urls

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
ROOM_INFO = "https://webcast.tiktok.com/webcast/room/info/?aid=1988&room_id=7390000000000000001"
MS_TOKEN = "Ab-" * 49 + "c"  # 148 base64url characters, like TikTok's


def _job(url: str = ROOM_INFO, *, body: str = "", ua: str | None = None, method: str = "GET") -> SignJob:
    profile = profile_from_user_agent(ua) if ua else default_profile()
    return SignJob(method, url, body, profile, time.time_ns() // 1_000_000)


async def _backend(path: Path, **options: float) -> VendorScriptBackend:
    return VendorScriptBackend(VendorScriptOptions(path, **options), ms_token=lambda: MS_TOKEN)  # type: ignore[arg-type]


@pytest.fixture
async def vendor() -> AsyncIterator[VendorScriptBackend]:
    backend = await _backend(bundle("5.1.3"), workers=2)
    yield backend
    await backend.aclose()


@pytest.mark.parametrize("ua", [None, FIREFOX])
async def test_the_vendor_sdk_signs_requests_that_verify_strictly(vendor: VendorScriptBackend, ua: str | None) -> None:
    job = _job(ua=ua)
    signed = await vendor.sign(job, random.Random(1))
    query = urls.split(signed.url).query
    assert signed.url.startswith(ROOM_INFO + "&msToken=" + MS_TOKEN + "&X-Bogus=")
    assert set(signed.tokens) == {"msToken", "X-Bogus", "X-Gnarly"}
    verdict = verify_request(
        signed.url, "", job.profile.user_agent, now_ms=job.now_ms, policy=VerifyPolicy(check_browser_params=False)
    )
    assert verdict.failures == ()
    envelope = xgnarly.decode(urls.find_param(query, "X-Gnarly") or "")
    assert (envelope.fields[9], envelope.fields[10]) == ("5.1.3", "1.0.0.328")  # the SDK's own strings


async def test_a_post_body_is_bound_into_the_signatures(vendor: VendorScriptBackend) -> None:
    job = _job("https://webcast.tiktok.com/webcast/room/chat/?aid=1988&room_id=1", body="content=hi", method="POST")
    signed = await vendor.sign(job, random.Random(1))
    lenient = VerifyPolicy(check_browser_params=False)
    assert verify_request(signed.url, "content=hi", job.profile.user_agent, now_ms=job.now_ms, policy=lenient).ok
    tampered = verify_request(signed.url, "content=ho", job.profile.user_agent, now_ms=job.now_ms, policy=lenient)
    assert {c.name for c in tampered.failures} == {"x_bogus.body", "x_gnarly.body"}


async def test_stale_signatures_in_the_url_are_replaced_not_kept(vendor: VendorScriptBackend) -> None:
    signed = await vendor.sign(_job(ROOM_INFO + "&X-Bogus=old&msToken=old"), random.Random(1))
    query = urls.split(signed.url).query
    assert query.count("X-Bogus=") == 1 and query.count("msToken=") == 1 and "=old" not in query


async def test_frontier_sign_answers_in_the_observed_format(vendor: VendorScriptBackend) -> None:
    value = await vendor.frontier_sign("0123456789abcdef0123456789abcdef")
    token = value["X-Bogus"]
    assert len(token) == 16 and token.isascii()


async def test_the_benchmarks_ping_and_in_node_timings_answer(vendor: VendorScriptBackend) -> None:
    await vendor.ping()  # a round trip with nothing signed
    each = await vendor.direct_latencies(_job(), 3)
    assert len(each) == 3 and all(0 < seconds < 5 for seconds in each)
    total, inside = await vendor.timed_sign(_job())  # a sign timed inside the worker too
    assert 0 < inside < total < 5


async def test_two_workers_sign_concurrently() -> None:
    backend = await _backend(bundle("5.1.3"), workers=2)
    try:
        signed = await asyncio.gather(*(backend.sign(_job(f"{ROOM_INFO}{i}"), random.Random(i)) for i in range(40)))
        assert len({s.tokens["X-Gnarly"] for s in signed}) == 40
        assert len(backend.worker_pids()) == 2
    finally:
        await backend.aclose()


async def test_a_crashed_worker_is_a_typed_refusal_and_is_restarted() -> None:
    backend = await _backend(FIXTURES / "misbehaving_sdk.js", workers=1)
    try:
        await backend.sign(_job(), random.Random(1))
        [first_pid] = backend.worker_pids()
        with pytest.raises(BackendRefusal) as caught:
            await backend.sign(_job(ROOM_INFO + "&crash=1"), random.Random(1))
        assert caught.value.kind is RefusalKind.CRASH and "status 9" in caught.value.message
        signed = await backend.sign(_job(), random.Random(1))
        assert signed.url.endswith("&X-Bogus=fake")
        assert backend.worker_pids() != [first_pid]
    finally:
        await backend.aclose()


async def test_a_hung_worker_is_killed_within_the_timeout_and_restarted() -> None:
    backend = await _backend(FIXTURES / "misbehaving_sdk.js", workers=1, timeout_s=0.5)
    try:
        await backend.sign(_job(), random.Random(1))
        [hung_pid] = backend.worker_pids()
        started = time.monotonic()
        with pytest.raises(BackendRefusal) as caught:
            await backend.sign(_job(ROOM_INFO + "&hang=1"), random.Random(1))
        assert caught.value.kind is RefusalKind.HANG
        assert time.monotonic() - started < 3.0
        await backend.sign(_job(), random.Random(1))
        assert backend.worker_pids() != [hung_pid]
        await asyncio.sleep(0)  # the kill is delivered; the old process is gone (reaped by its reader)
        for _ in range(100):
            try:
                os.kill(hung_pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail(f"the hung worker {hung_pid} is still running")
    finally:
        await backend.aclose()


@pytest.mark.parametrize(
    ("path", "why"),
    [
        (FIXTURES / "not_an_sdk.js", "defines no byted_acrawler.init"),
        (FIXTURES / "no_such_bundle.js", "cannot read the bundle"),
    ],
)
async def test_a_bad_bundle_is_a_typed_refusal_with_the_reason(path: Path, why: str) -> None:
    backend = await _backend(path, workers=1)
    try:
        for _ in range(2):  # every call tries a fresh worker, and says why again
            with pytest.raises(BackendRefusal) as caught:
                await backend.sign(_job(), random.Random(1))
            assert caught.value.kind is RefusalKind.BAD_BUNDLE and why in caught.value.message
        with pytest.raises(BackendRefusal):
            await backend.check()
    finally:
        await backend.aclose()


async def test_the_strict_emulator_accepts_what_the_vendor_sdk_signed(vendor: VendorScriptBackend) -> None:
    from ttsign.emulator.cookies import CookieIssuer
    from ttsign.emulator.scenario import StrictHttp
    from ttsign.emulator.strict import check_im_fetch
    from ttsign.signing.signer import with_browser_params

    profile = default_profile()
    im_fetch = "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=7390000000000000001&cursor="
    job = SignJob("GET", with_browser_params(im_fetch, profile), "", profile, time.time_ns() // 1_000_000)
    signed = await vendor.sign(job, random.Random(1))
    issuer = CookieIssuer()
    outcome = check_im_fetch(
        urls.split(signed.url).query,
        "",
        profile.user_agent,
        {"ttwid": issuer.issue_ttwid()},
        issuer,
        now_ms=time.time_ns() // 1_000_000,
        options=StrictHttp(),
    )
    assert outcome.ok, outcome.failures
    assert "x_gnarly.query" in outcome.checks and "browser.browser_version" in outcome.checks


def test_workers_exit_when_their_server_dies_without_cleaning_up() -> None:
    """The SDK keeps timers alive in Node: a worker must still end when its parent's pipe closes."""
    import subprocess
    import sys

    script = (
        "import asyncio, os, random, time\n"
        "from pathlib import Path\n"
        "from ttsign.signers.backend import SignJob\n"
        "from ttsign.signers.vendor_script import VendorScriptBackend, VendorScriptOptions\n"
        "from ttsign.signing import default_profile\n"
        "async def main():\n"
        f"    b = VendorScriptBackend(VendorScriptOptions(Path({str(bundle('5.1.3'))!r}), workers=1))\n"
        f"    job = SignJob('GET', {ROOM_INFO!r}, '', default_profile(), time.time_ns() // 10**6)\n"
        "    await b.sign(job, random.Random(1))\n"
        "    print(b.worker_pids()[0], flush=True)\n"
        "    os._exit(0)  # no aclose: the server died\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    pid = int(result.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail(f"worker {pid} outlived its parent")


@pytest.mark.parametrize("read_size", [1, 7, 1000])  # one byte at a time splits every line and the "é"
async def test_answers_are_routed_by_id_however_the_pipe_splits_them(read_size: int) -> None:
    """Answers reach their callers whether a read holds part of a line or several lines, in any order."""
    from ttsign.signers.vendor_script import _Answers

    loop = asyncio.get_running_loop()
    answers = _Answers(loop)
    waiting = {i: loop.create_future() for i in (1, 2, 3)}
    answers.pending.update(waiting)
    stream = '{"ready": true}\n{"id": 2, "url": "b"}\n{"id": 1, "url": "\u00e9"}\nnot json\n{"id": 3}\n'.encode()
    for cut in range(0, len(stream), read_size):
        answers.pipe_data_received(1, stream[cut : cut + read_size])
    assert answers.ready.result() == {"ready": True}
    assert [waiting[i].result().get("url") for i in (1, 2, 3)] == ["\u00e9", "b", None]
    assert answers.pending == {}
