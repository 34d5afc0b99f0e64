"""Strict mode's vendor-script reference: TikTok's own SDK reproduces each signature, so a bug that ttsign's
signer and verifier share is refused, though ttsign's own verify_request accepts it."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import random
import subprocess
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path

import pytest

from tests.e2e.harness import TTSIGN
from tests.emulator.test_chat import post
from tests.signers.vendor_bundles import bundle, missing
from ttsign.emulator.scenario import DEFAULT_SESSION_ID
from ttsign.emulator.vendor_verify import VendorReference, VendorVerifyOptions, compare
from ttsign.signing import VerifyPolicy, default_profile, sign_request, verify_request, xbogus
from ttsign.signing import environment as environments
from ttsign.signing import url as urls
from ttsign.signing.digest import rc4
from ttsign.signing.environment import DEFAULT_ENVIRONMENT, SignerEnvironment
from ttsign.signing.sdk_session import fields_5_1_3

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")
PATH = "/webcast/im/fetch/"
URL = "https://webcast.tiktok.com" + PATH + "?aid=1988&app_name=tiktok_web&room_id=7390000000000000001&cursor="
MS_TOKEN = "Ab-" * 49 + "c"
NATIVE = VerifyPolicy(check_browser_params=False)


@pytest.fixture
async def reference() -> AsyncIterator[VendorReference]:
    vendor = VendorReference(VendorVerifyOptions(bundle("5.1.3"), pages=2))
    yield vendor
    await vendor.aclose()


def _signed(
    body: str = "",
    *,
    ms_token: str = MS_TOKEN,
    environment: SignerEnvironment = DEFAULT_ENVIRONMENT,
    age_s: int = 0,
) -> tuple[str, int]:
    """(raw query as sent, the time it was signed at) of an im/fetch signed by ttsign `age_s` seconds ago."""
    now_ms = time.time_ns() // 1_000_000 - age_s * 1000
    signed = sign_request(
        "POST" if body else "GET",
        URL,
        body,
        default_profile(),
        now_ms=now_ms,
        rng=random.Random(3),
        ms_token=ms_token,
        environment=environment,
    )
    return urls.split(signed.url).query, now_ms


def _failed(checks: tuple[object, ...]) -> dict[str, str]:
    return {c.name: c.detail for c in checks if not c.ok}  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", ["", "content=hi"])
async def test_what_ttsign_signs_is_what_the_vendor_sdk_signs(reference: VendorReference, body: str) -> None:
    query, _ = _signed(body)
    checks = await reference.verify(PATH, query, body, default_profile().user_agent, method="POST" if body else "GET")
    assert [c.name for c in checks] == ["vendor.reproduced", "vendor.x_bogus", "vendor.x_gnarly"]
    assert _failed(checks) == {}


async def test_the_sdk_reproduces_at_the_time_the_signature_claims(reference: VendorReference) -> None:
    # Signed four minutes ago: only a reference whose clock is pinned to that second can agree.
    query, _ = _signed(age_s=240)
    assert _failed(await reference.verify(PATH, query, "", default_profile().user_agent)) == {}


async def test_each_ms_token_gets_its_own_sdk_page_and_old_pages_are_closed(reference: VendorReference) -> None:
    ua = default_profile().user_agent
    for token in ("Aa" * 74, "Bb" * 74, "Cc" * 74):
        query, _ = _signed(ms_token=token)
        assert _failed(await reference.verify(PATH, query, "", ua)) == {}
    assert len(reference._pages) == 2  # pages=2: the first token's page was closed


@lru_cache(maxsize=64)
def _ua_hash_with_key_order_swapped(user_agent: str, envcode: int, ubcode: int) -> bytes:
    """A plausible porting bug: the RC4 key bytes of the UA hash in the wrong order."""
    sealed = rc4(bytes((0, ubcode & 0xFF, envcode & 0xFF)), user_agent.encode("latin-1"))
    return hashlib.md5(base64.b64encode(sealed), usedforsecurity=False).digest()


async def test_an_x_bogus_bug_shared_by_signer_and_verifier_is_refused(
    reference: VendorReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One function used by both xbogus.encode (the signer) and xbogus.match (the verifier).
    monkeypatch.setattr(xbogus, "ua_hash", _ua_hash_with_key_order_swapped)
    query, now_ms = _signed()
    ua = default_profile().user_agent
    assert verify_request(query, "", ua, now_ms=now_ms, policy=NATIVE).ok  # the shared bug passes natively
    failed = _failed(await reference.verify(PATH, query, "", ua))
    assert list(failed) == ["vendor.x_bogus"]
    assert failed["vendor.x_bogus"].startswith("ttsign's X-Bogus algorithm gives")


async def test_a_wrong_x_bogus_magic_byte_in_both_is_refused(
    reference: VendorReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xbogus, "_MAGIC", 0x41)  # encode writes it, decode demands it
    query, now_ms = _signed()
    ua = default_profile().user_agent
    assert verify_request(query, "", ua, now_ms=now_ms, policy=NATIVE).ok
    failed = _failed(await reference.verify(PATH, query, "", ua))
    assert list(failed) == ["vendor.x_bogus"]
    assert "wrong magic" in failed["vendor.x_bogus"]


async def test_a_payload_version_the_verifier_was_taught_too_is_refused(reference: VendorReference) -> None:
    # Signer environment and verifier policy both "know" 5.1.4: native verification cannot tell.
    wrong = dataclasses.replace(DEFAULT_ENVIRONMENT, payload_version="5.1.4")
    query, now_ms = _signed(environment=wrong)
    ua = default_profile().user_agent
    taught = VerifyPolicy(check_browser_params=False, gnarly_versions=frozenset({"5.1.4"}))
    assert verify_request(query, "", ua, now_ms=now_ms, policy=taught).ok
    failed = _failed(await reference.verify(PATH, query, "", ua))
    assert failed == {"vendor.x_gnarly": "field 9 is '5.1.4', the SDK writes '5.1.3'"}


async def test_a_wrong_constant_field_native_does_not_check_is_refused(
    reference: VendorReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    def field_11_is_two(*args: object, **kwargs: object) -> dict[int, object]:
        fields = fields_5_1_3(*args, **kwargs)  # type: ignore[arg-type]
        fields[0] = int(fields[0]) ^ 1 ^ 2  # keep the checksum right: only the constant is wrong
        fields[11] = 2
        return fields  # type: ignore[return-value]

    monkeypatch.setattr(environments, "fields_5_1_3", field_11_is_two)
    query, now_ms = _signed()
    ua = default_profile().user_agent
    assert verify_request(query, "", ua, now_ms=now_ms, policy=NATIVE).ok
    failed = _failed(await reference.verify(PATH, query, "", ua))
    assert failed == {"vendor.x_gnarly": "field 11 is 2, the SDK writes 1"}


async def test_a_tampered_x_gnarly_is_refused_by_both(reference: VendorReference) -> None:
    query, now_ms = _signed()
    token = urls.find_param(query, "X-Gnarly") or ""
    tampered = query.replace(token, token[:40] + ("A" if token[40] != "A" else "B") + token[41:])
    ua = default_profile().user_agent
    assert not verify_request(tampered, "", ua, now_ms=now_ms, policy=NATIVE).ok
    assert "vendor.x_gnarly" in _failed(await reference.verify(PATH, tampered, "", ua))


async def test_ms_token_not_last_is_not_what_the_sdk_signs(reference: VendorReference) -> None:
    query, _ = _signed()
    moved = "msToken=" + MS_TOKEN + "&" + query.replace("&msToken=" + MS_TOKEN, "")
    failed = _failed(await reference.verify(PATH, moved, "", default_profile().user_agent))
    assert list(failed) == ["vendor.reproduced"]


async def test_a_request_without_x_bogus_has_nothing_to_reproduce(reference: VendorReference) -> None:
    query, _ = _signed()
    bare = urls.strip_params(query, frozenset({"X-Bogus"}))
    failed = _failed(await reference.verify(PATH, bare, "", default_profile().user_agent))
    assert list(failed) == ["vendor.reproduced"]


async def test_an_sdk_that_cannot_start_is_a_named_failure(tmp_path: Path) -> None:
    broken = VendorReference(VendorVerifyOptions(tmp_path / "missing.js"))
    try:
        query, _ = _signed()
        failed = _failed(await broken.verify(PATH, query, "", default_profile().user_agent))
    finally:
        await broken.aclose()
    assert list(failed) == ["vendor.reproduced"]
    assert "bad_bundle" in failed["vendor.reproduced"]


def test_compare_requires_the_reference_to_cover_the_same_bytes() -> None:
    query, _ = _signed()
    other, _ = _signed(ms_token="Zz" * 74)
    checks = compare(query, "", default_profile().user_agent, other)
    assert _failed(checks) == {"vendor.reproduced": "the SDK signs other bytes (is msToken not last?)"}


async def test_the_strict_emulator_refuses_the_shared_bug_only_when_verifying_with_the_vendor(
    start_emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process: the emulator's verifier has the same bug as the signer, as a shared bug would.
    monkeypatch.setattr(xbogus, "ua_hash", _ua_hash_with_key_order_swapped)
    refuse_with_403 = {"strict": {"reject_with": "403"}}
    native, vendor = await start_emulator(refuse_with_403), await start_emulator(refuse_with_403)
    vendor.emu.vendor = VendorReference(VendorVerifyOptions(bundle("5.1.3"), pages=1))
    try:
        statuses = []
        for running in (native, vendor):
            path, ua = running.signed_fetch_url()
            cookie = f"ttwid={await running.ttwid()}"
            statuses.append((await running.http.get(path, headers={"User-Agent": ua, "Cookie": cookie})).status_code)
        assert statuses == [200, 403]
        assert (await native.log("strict_check"))[-1]["ok"] is True
        check = (await vendor.log("strict_check"))[-1]
        assert {"vendor.reproduced", "vendor.x_bogus", "vendor.x_gnarly"} <= set(check["checks"])
        assert check["failed"] == ["vendor.x_bogus"]
    finally:
        await vendor.emu.vendor.aclose()


async def test_the_strict_emulator_accepts_what_ttsign_signs_with_the_vendor_as_reference(start_emulator) -> None:
    running = await start_emulator()
    running.emu.vendor = VendorReference(VendorVerifyOptions(bundle("5.1.3"), pages=1))
    try:
        path, ua = running.signed_fetch_url()
        cookie = f"ttwid={await running.ttwid()}"
        response = await running.http.get(path, headers={"User-Agent": ua, "Cookie": cookie})
        assert response.status_code == 200
        check = (await running.log("strict_check"))[-1]
        assert check["ok"] is True and "vendor.x_gnarly" in check["checks"]
    finally:
        await running.emu.vendor.aclose()


async def test_a_signed_room_chat_post_is_verified_with_the_vendor_too(start_emulator) -> None:
    running = await start_emulator()
    running.emu.vendor = VendorReference(VendorVerifyOptions(bundle("5.1.3"), pages=1))
    try:
        ttwid = await running.ttwid()
        response = await post(running, "hi", f"ttwid={ttwid}; sessionid={DEFAULT_SESSION_ID}")
        assert response.json()["status_code"] == 0
        check = (await running.log("strict_check"))[-1]
        assert check["path"] == "/webcast/room/chat/"
        assert check["ok"] is True and "vendor.x_bogus" in check["checks"]
    finally:
        await running.emu.vendor.aclose()


def test_a_bundle_that_is_not_the_sdk_stops_the_emulator_before_it_is_ready(tmp_path: Path) -> None:
    garbage = tmp_path / "webmssdk.js"
    garbage.write_text("this is not TikTok's SDK")
    argv = [TTSIGN, "emulate", "--host", "127.0.0.1", "--port", "0", "--era", "2026-08"]
    argv += ["--verify-with", "vendor-script", "--vendor-script", str(garbage)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""  # no ready line
    assert "ttsign emulate: --vendor-script cannot be used: vendor-script: bad_bundle:" in done.stderr
    assert "Traceback" not in done.stderr


async def test_concurrent_requests_with_many_ms_tokens_never_close_a_page_in_use() -> None:
    vendor = VendorReference(VendorVerifyOptions(bundle("5.1.3"), pages=1))
    ua = default_profile().user_agent
    try:
        queries = [_signed(ms_token=letter * 148)[0] for letter in "ABCD"]
        results = await asyncio.gather(*(vendor.verify(PATH, query, "", ua) for query in queries))
        assert [_failed(checks) for checks in results] == [{}] * 4
        assert len(vendor._pages) == 1
    finally:
        await vendor.aclose()
