"""The vendor-script worker with the other webmssdk builds of tiktok-signature@4.3.6 (2.0.0.485, 1.0.0.368):
their init reads the page's region host and their hook sends on a later tick, which the worker handles."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.signers.vendor_bundles import FIXTURES, bundle, missing
from ttsign.signers.backend import BackendRefusal, RefusalKind, SignJob
from ttsign.signers.vendor_script import VendorScriptBackend, VendorScriptOptions
from ttsign.signing import VerifyPolicy, default_profile, verify_request, xbogus, xgnarly
from ttsign.signing import url as urls

ROOM_INFO = "https://webcast.tiktok.com/webcast/room/info/?aid=1988&room_id=7390000000000000001"
NO_NODE = shutil.which("node") is None


@asynccontextmanager
async def _backend(path: Path, **options: float) -> AsyncIterator[VendorScriptBackend]:
    backend = VendorScriptBackend(VendorScriptOptions(path, **options))  # type: ignore[arg-type]
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.mark.parametrize("version", ["2.0.0.485", "1.0.0.368"])
async def test_the_build_initialises_and_signs_requests_that_verify(version: str) -> None:
    if missing(version):
        pytest.skip(missing(version) or "")
    job = SignJob("GET", ROOM_INFO, "", default_profile(), time.time_ns() // 1_000_000)
    async with _backend(bundle(version)) as vendor:
        signed = await vendor.sign(job, random.Random(1))
    assert set(signed.tokens) == {"msToken", "X-Bogus", "X-Gnarly"}
    lenient = VerifyPolicy(check_browser_params=False)
    assert verify_request(signed.url, "", job.profile.user_agent, now_ms=job.now_ms, policy=lenient).failures == ()
    envelope = xgnarly.decode(urls.find_param(urls.split(signed.url).query, "X-Gnarly") or "")
    assert (envelope.fields[9], envelope.fields[10]) == ("5.1.3-ZTCA", version)  # the build's own strings


async def test_deferred_signs_on_one_worker_each_keep_their_pinned_clock() -> None:
    """Eight calls in flight on one worker whose hook sends later: each is signed at its own instant."""
    if missing("2.0.0.485"):
        pytest.skip(missing("2.0.0.485") or "")
    ua = default_profile().user_agent
    instants = [1_760_000_000_000 + i * 7_000 for i in range(8)]
    async with _backend(bundle("2.0.0.485"), workers=1) as vendor:
        urls_signed = await asyncio.gather(
            *(vendor.sign_at("GET", ROOM_INFO, "", ua, "Win32", now_ms=ms) for ms in instants)
        )
    for now_ms, url in zip(instants, urls_signed, strict=True):
        token = xbogus.decode(urls.find_param(urls.split(url).query, "X-Bogus") or "")
        assert token.ts == now_ms // 1000


@pytest.mark.skipif(NO_NODE, reason="node is not installed")
async def test_a_deferring_hook_is_awaited_and_one_that_never_sends_is_a_typed_refusal() -> None:
    ua = default_profile().user_agent
    async with _backend(FIXTURES / "deferring_sdk.js", workers=1, timeout_s=5) as vendor:
        signed = await vendor.sign_at("GET", ROOM_INFO, "", ua, "Win32", now_ms=1_760_000_123_456)
        assert signed == ROOM_INFO + "&X-Bogus=at1760000123456&X-Gnarly=at1760000123456"
        started = time.monotonic()
        with pytest.raises(BackendRefusal) as refused:
            await vendor.sign_at("GET", ROOM_INFO + "&never=1", "", ua, "Win32", now_ms=1_760_000_123_000)
        assert refused.value.kind is RefusalKind.BAD_ANSWER and "never sent" in str(refused.value)
        assert time.monotonic() - started < 4  # the worker's own limit, not the server's hang timeout
        # The worker lives on: the next call is served.
        again = await vendor.sign_at("GET", ROOM_INFO, "", ua, "Win32", now_ms=1_760_000_124_000)
        assert again.endswith("&X-Gnarly=at1760000124000")


@pytest.mark.skipif(NO_NODE, reason="node is not installed")
async def test_a_call_without_an_instant_reads_one_instant_for_both_signatures() -> None:
    """The hook reads the clock when called and again 20 ms later: both reads agree (a pair split across a
    second boundary fails X-Gnarly's agreement with X-Bogus)."""
    job = SignJob("GET", ROOM_INFO, "", default_profile(), time.time_ns() // 1_000_000)
    async with _backend(FIXTURES / "deferring_sdk.js", workers=1) as vendor:
        for _ in range(3):
            tokens = (await vendor.sign(job, random.Random(1))).tokens
            assert tokens["X-Bogus"] == tokens["X-Gnarly"], tokens
            assert abs(int(tokens["X-Bogus"].removeprefix("at")) - time.time() * 1000) < 5_000
