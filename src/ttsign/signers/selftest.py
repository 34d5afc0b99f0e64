"""Run the drift check: sign the self-test requests with the vendor script on several pages, compare."""

from __future__ import annotations

import random
import time
from pathlib import Path

from ttsign.signers.backend import SignJob
from ttsign.signers.drift import SELFTEST_URLS, DriftReport, compare, observe
from ttsign.signers.vendor_script import VendorScriptBackend, VendorScriptOptions
from ttsign.signing.environment import SignerEnvironment
from ttsign.signing.profile import BrowserProfile
from ttsign.signing.signer import SignedRequest


async def sign_on_pages(bundle: Path, profile: BrowserProfile, pages: int) -> list[SignedRequest]:
    """Every self-test request on every page (one vendor worker is one SDK page)."""
    backend = VendorScriptBackend(VendorScriptOptions(bundle, workers=pages, timeout_s=10))
    try:
        signed = []
        for method, url, body in SELFTEST_URLS:
            for _ in range(pages):  # consecutive calls go to consecutive workers
                job = SignJob(method, url, body, profile, time.time_ns() // 1_000_000)
                signed.append(await backend.sign(job, random.Random(0)))
        return signed
    finally:
        await backend.aclose()


async def drift_check(bundle: Path, environment: SignerEnvironment, *, pages: int = 2) -> DriftReport:
    """Raise BackendRefusal when the vendor script does not sign, UnreadableToken when its tokens do not decode."""
    profile = environment.profile()
    return compare(environment, profile, observe(await sign_on_pages(bundle, profile, pages)), pages=pages)
