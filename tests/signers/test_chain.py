"""The signer chain: fallthrough in order, a breaker per backend, foreign answers checked, metrics by backend."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from ttsign.service.readiness import signer_backends_probe
from ttsign.signers.backend import BackendRefusal, NoBackendSigned, RefusalKind, SignJob
from ttsign.signers.chain import SignerChain
from ttsign.signers.native import NativeBackend
from ttsign.signers.observe import backend_metrics
from ttsign.signing import default_profile, sign_request, xgnarly
from ttsign.signing.environment import VENDOR_5_1_3_ZTCA
from ttsign.signing.signer import SignedRequest
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy

URL = "https://webcast.tiktok.com/webcast/room/info/?aid=1988&room_id=1"


def _job(url: str = URL) -> SignJob:
    return SignJob("GET", url, "", default_profile(), time.time_ns() // 1_000_000)


@dataclass
class FakeBackend:
    """Refuses with `kind`, or (kind None) answers a native signature of `answer_url` (default: the job's)."""

    name: str
    kind: RefusalKind | None = None
    answer_url: str | None = None
    calls: int = 0
    checked: list[str] = field(default_factory=list)

    async def sign(self, job: SignJob, rng: random.Random) -> SignedRequest:
        self.calls += 1
        if self.kind is not None:
            raise BackendRefusal(self.name, self.kind, "fake refusal")
        url = self.answer_url or job.url
        return sign_request(job.method, url, job.body, job.profile, now_ms=job.now_ms, rng=rng)

    async def check(self) -> None:
        self.checked.append("check")
        if self.kind is not None:
            raise BackendRefusal(self.name, self.kind, "fake refusal")

    async def aclose(self) -> None:
        return None


class Outcomes(list[tuple[str, str]]):
    def __call__(self, backend: str, outcome: str, elapsed_s: float) -> None:
        assert elapsed_s >= 0
        self.append((backend, outcome))


async def test_a_refusing_backend_falls_through_to_the_next() -> None:
    outcomes = Outcomes()
    chain = SignerChain([FakeBackend("vendor-script", RefusalKind.CRASH), NativeBackend()], on_outcome=outcomes)
    signed = await chain.sign(_job(), random.Random(1))
    assert signed.backend == "native"
    assert outcomes == [("vendor-script", "worker_crash"), ("native", "signed")]


async def test_the_first_backend_that_signs_wins_and_later_ones_are_not_asked() -> None:
    later = FakeBackend("remote")
    chain = SignerChain([FakeBackend("vendor-script"), later])
    assert (await chain.sign(_job(), random.Random(1))).backend == "vendor-script"
    assert later.calls == 0


async def test_a_foreign_answer_that_does_not_bind_to_the_request_is_refused() -> None:
    """A backend that signs another query: the chain decodes the answer and falls through."""
    outcomes = Outcomes()
    liar = FakeBackend("remote", answer_url=URL.replace("room_id=1", "room_id=2"))
    chain = SignerChain([liar, NativeBackend()], on_outcome=outcomes)
    signed = await chain.sign(_job(), random.Random(1))
    assert signed.backend == "native" and outcomes[0] == ("remote", "bad_answer")


async def test_a_backend_that_keeps_failing_is_skipped_while_its_breaker_is_open() -> None:
    now = [0.0]
    breakers = BreakerBoard("signer_backend", BreakerPolicy(failure_threshold=2, cooldown_s=10), clock=lambda: now[0])
    failing = FakeBackend("vendor-script", RefusalKind.HANG)
    outcomes = Outcomes()
    chain = SignerChain([failing, NativeBackend()], breakers=breakers, on_outcome=outcomes)
    for _ in range(4):
        await chain.sign(_job(), random.Random(1))
    assert failing.calls == 2  # the third and fourth requests never reached it
    assert outcomes.count(("vendor-script", "circuit_open")) == 2
    now[0] = 11.0  # cooldown over: one probe goes through again
    await chain.sign(_job(), random.Random(1))
    assert failing.calls == 3


async def test_when_every_backend_refuses_each_reason_is_reported_in_order() -> None:
    chain = SignerChain(
        [FakeBackend("vendor-script", RefusalKind.BAD_BUNDLE), FakeBackend("remote", RefusalKind.UNAVAILABLE)]
    )
    with pytest.raises(NoBackendSigned) as caught:
        await chain.sign(_job(), random.Random(1))
    assert [(r.backend, r.kind) for r in caught.value.refusals] == [
        ("vendor-script", RefusalKind.BAD_BUNDLE),
        ("remote", RefusalKind.UNAVAILABLE),
    ]


async def test_the_native_backend_signs_in_its_environment() -> None:
    chain = SignerChain([NativeBackend(VENDOR_5_1_3_ZTCA)])
    signed = await chain.sign(_job(), random.Random(1))
    from ttsign.signing import xgnarly

    assert xgnarly.decode(signed.request.tokens["X-Gnarly"]).fields[9] == "5.1.3-ZTCA"


async def test_metrics_count_attempts_by_backend_and_outcome() -> None:
    registry = CollectorRegistry()
    chain = SignerChain(
        [FakeBackend("vendor-script", RefusalKind.CRASH), NativeBackend()], on_outcome=backend_metrics(registry)
    )
    await chain.sign(_job(), random.Random(1))
    await chain.sign(_job(), random.Random(2))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("ttsign_signer_backend_attempts_total", backend="vendor-script", outcome="worker_crash") == 2
    assert value("ttsign_signer_backend_attempts_total", backend="native", outcome="signed") == 2
    assert value("ttsign_signer_backend_seconds_count", backend="native") == 2


async def test_readiness_needs_one_healthy_backend() -> None:
    healthy = SignerChain([FakeBackend("vendor-script", RefusalKind.BAD_BUNDLE), NativeBackend()])
    probe = await signer_backends_probe(healthy)
    assert probe.ok and "vendor-script: bad_bundle" in probe.detail
    broken = SignerChain([FakeBackend("vendor-script", RefusalKind.BAD_BUNDLE)])
    assert not (await signer_backends_probe(broken)).ok
    assert (await signer_backends_probe(None)).ok


async def test_a_reported_signature_refusal_counts_against_the_backend() -> None:
    breakers = BreakerBoard("signer_backend", BreakerPolicy(failure_threshold=1, cooldown_s=60))
    backend = FakeBackend("vendor-script")
    chain = SignerChain([backend, NativeBackend()], breakers=breakers)
    chain.report_refusal("vendor-script")  # TikTok refused what it signed
    assert (await chain.sign(_job(), random.Random(1))).backend == "native" and backend.calls == 0


async def test_backends_tiktok_refused_for_this_request_are_skipped() -> None:
    first, second = FakeBackend("vendor-script"), FakeBackend("remote")
    outcomes = Outcomes()
    chain = SignerChain([first, second], on_outcome=outcomes)
    signed = await chain.sign(_job(), random.Random(1), besides={"vendor-script"})
    assert signed.backend == "remote" and first.calls == 0
    with pytest.raises(NoBackendSigned) as caught:
        await chain.sign(_job(), random.Random(1), besides={"vendor-script", "remote"})
    assert caught.value.refusals == [] and outcomes == [("remote", "signed")]


async def test_own_requests_chain_swaps_the_native_environment_and_shares_breakers_and_metrics() -> None:
    vendor = FakeBackend("vendor-script", RefusalKind.CRASH)
    outcomes = Outcomes()
    breakers = BreakerBoard("signer_backend", BreakerPolicy(failure_threshold=1, cooldown_s=60))
    chain = SignerChain([vendor, NativeBackend()], breakers=breakers, on_outcome=outcomes)
    own = chain.with_native(NativeBackend(VENDOR_5_1_3_ZTCA))
    assert own.names == chain.names and own.breakers is chain.breakers
    signed = await own.sign(_job(), random.Random(1))
    assert signed.backend == "native"
    assert xgnarly.decode(signed.request.tokens["X-Gnarly"]).fields[9] == "5.1.3-ZTCA"  # the swapped environment
    assert outcomes == [("vendor-script", "worker_crash"), ("native", "signed")]
    await chain.sign(_job(), random.Random(1))  # the crash opened the shared breaker: skipped here too
    assert vendor.calls == 1 and outcomes[-2:] == [("vendor-script", "circuit_open"), ("native", "signed")]


async def test_a_backend_declining_a_kind_of_request_falls_through_without_tripping_its_breaker() -> None:
    declining = FakeBackend("remote", RefusalKind.UNSUPPORTED)
    outcomes = Outcomes()
    breakers = BreakerBoard("signer_backend", BreakerPolicy(failure_threshold=1, cooldown_s=60))
    chain = SignerChain([declining, NativeBackend()], breakers=breakers, on_outcome=outcomes)
    for _ in range(3):
        assert (await chain.sign(_job(), random.Random(1))).backend == "native"
    assert declining.calls == 3  # asked every time: never skipped as circuit_open
    assert outcomes.count(("remote", "unsupported")) == 3
