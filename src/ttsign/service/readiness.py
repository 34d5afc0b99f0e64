"""Readiness: can this process do its job right now? Liveness (`/healthz`) only says it is running.

Probes: the key store answers, the signer still produces signatures its own verifier accepts (a fixed
request, signed then verified, as TikTok would check it), the in-flight slots are not stalled (requests
waiting, none finishing; liveness uses the same probe), and, when asked for, the default identity's
circuit breaker is not open (TikTok keeps refusing us, so new traffic would only fail).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ttsign.service.resilience import ConnectBreakers, identity_key
from ttsign.signers.chain import SignerChain
from ttsign.signing import BrowserProfile, generate_ms_token, sign_request, verify_request
from ttsign.store.base import KeyStore
from ttsign.upstream.breaker import BreakerState

SELF_TEST_URL = (
    "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&app_name=tiktok_web&device_platform=web"
    "&room_id=7390000000000000001&cursor=&resp_content_type=protobuf"
)
_PROBE_KEY_ID = "readyz-probe"  # never a real key id; looking it up only proves the store answers


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str = ""


def signer_probe(profile: BrowserProfile, *, now_ms: int | None = None) -> Probe:
    """Sign a fixed im/fetch request and verify it with the same rules the emulator enforces."""
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    rng = random.Random(now_ms)
    try:
        # With the profile's browser_* parameters, as every real request carries them (and verify checks).
        url = f"{SELF_TEST_URL}&{urlencode(profile.browser_query(), quote_via=quote, safe='')}"
        signed = sign_request("GET", url, "", profile, now_ms=now_ms, rng=rng, ms_token=generate_ms_token(rng))
        verdict = verify_request(signed.url, "", profile.user_agent, now_ms=now_ms)
    except Exception as exc:  # a signer that raises is exactly what this probe is for
        return Probe("signer", False, f"{type(exc).__name__} while signing")
    if verdict.ok:
        return Probe("signer", True)
    return Probe("signer", False, "failed checks: " + ", ".join(check.name for check in verdict.failures))


async def store_probe(store: KeyStore, *, timeout_s: float = 1.0) -> Probe:
    try:
        async with asyncio.timeout(timeout_s):
            await store.by_id(_PROBE_KEY_ID)
    except TimeoutError:
        return Probe("store", False, f"no answer within {timeout_s:g} s")
    except Exception as exc:  # any backend failure means not ready; its message may hold a URL, so not shown
        return Probe("store", False, type(exc).__name__)
    return Probe("store", True)


def upstream_probe(breakers: ConnectBreakers | None, profile: BrowserProfile) -> Probe:
    if breakers is None:
        return Probe("upstream", True, "no breakers")
    state = breakers.identities.state(identity_key(profile))
    if state is BreakerState.OPEN:
        return Probe("upstream", False, f"identity breaker for {profile.name} is open")
    return Probe("upstream", True, str(state))


def in_flight_probe(stalled_s: float, limit_s: float) -> Probe:
    """Requests have waited `stalled_s` for an in-flight slot while none finished: past `limit_s`, the
    process is stuck, whatever else still answers."""
    if stalled_s >= limit_s:
        return Probe("in_flight", False, f"requests waiting, none finished for {stalled_s:.1f} s")
    return Probe("in_flight", True)


async def signer_backends_probe(signers: SignerChain | None, *, timeout_s: float = 15.0) -> Probe:
    """Ready when at least one signer backend is healthy (breaker closed; its workers start)."""
    if signers is None:
        return Probe("signer_backends", True, "native only")
    try:
        async with asyncio.timeout(timeout_s):
            report = await signers.health()
    except TimeoutError:
        return Probe("signer_backends", False, f"no answer within {timeout_s:g} s")
    detail = "; ".join(f"{h.backend}: {'ok' if h.ok else h.detail}" for h in report)
    return Probe("signer_backends", any(h.ok for h in report), detail)


async def readiness(
    store: KeyStore,
    profile: BrowserProfile,
    breakers: ConnectBreakers | None,
    *,
    check_upstream: bool,
    in_flight: Probe | None = None,
    signers: SignerChain | None = None,
    check_signers: bool = False,
) -> list[Probe]:
    probes = [await store_probe(store), signer_probe(profile)]
    if check_upstream:
        probes.append(upstream_probe(breakers, profile))
    if in_flight is not None:
        probes.append(in_flight)
    if check_signers:
        probes.append(await signer_backends_probe(signers))
    return probes
