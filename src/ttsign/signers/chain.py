"""Signer backends in configured order: the first that signs wins, a refusal falls through to the next.

Each backend has a circuit breaker (a backend that keeps failing is skipped until its cooldown ends) and
every attempt is counted by backend and outcome. An answer from a backend ttsign does not run itself
(vendor-script, remote) is decoded and checked against the request before it is used.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from ttsign.signers.backend import BackendRefusal, NoBackendSigned, RefusalKind, SignerBackend, SignJob
from ttsign.signing import url as urls
from ttsign.signing.signer import SignedRequest
from ttsign.signing.verify import VerifyPolicy, verify_request
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy
from ttsign.upstream.signer import Signed

OnOutcome = Callable[[str, str, float], None]  # (backend, outcome: "signed" or a RefusalKind, seconds)
_LENIENT = VerifyPolicy(require_ms_token=False, require_x_gnarly=False, check_browser_params=False)
# Another signer may write a payload version ttsign has no built-in environment for: that is not a fault.
_NOT_FAULTS = frozenset({"x_gnarly.version", "ms_token.format"})


@dataclass(frozen=True)
class BackendHealth:
    backend: str
    ok: bool
    detail: str = ""


def _ignore(backend: str, outcome: str, elapsed_s: float) -> None:
    pass


class SignerChain:
    def __init__(
        self,
        backends: Sequence[SignerBackend],
        *,
        breakers: BreakerBoard | None = None,
        on_outcome: OnOutcome = _ignore,
    ) -> None:
        if not backends:
            raise ValueError("a signer chain needs at least one backend")
        self.backends = tuple(backends)
        self.breakers = breakers or BreakerBoard("signer_backend", BreakerPolicy())
        self._on_outcome = on_outcome

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(backend.name for backend in self.backends)

    def with_native(self, native: SignerBackend) -> SignerChain:
        """The same backends in the same order, with `native` in place of the native one (another signer
        environment, e.g. ttsign's own endpoint table); breakers and metrics are shared."""
        backends = [native if backend.name == native.name else backend for backend in self.backends]
        return SignerChain(backends, breakers=self.breakers, on_outcome=self._on_outcome)

    async def sign(self, job: SignJob, rng: random.Random, *, besides: Collection[str] = ()) -> Signed:
        """Sign with the first backend not in `besides` that can; raise NoBackendSigned with every refusal
        otherwise (`besides`: backends whose signature TikTok already refused for this request)."""
        refusals: list[BackendRefusal] = []
        for backend in self.backends:
            if backend.name in besides:
                continue
            if self.breakers.check(backend.name) is not None:
                refusal = BackendRefusal(backend.name, RefusalKind.CIRCUIT_OPEN, "breaker open after repeated failures")
                self._on_outcome(backend.name, refusal.kind, 0.0)
                refusals.append(refusal)
                continue
            started = time.perf_counter()
            try:
                signed = await backend.sign(job, rng)
                if backend.name != "native":
                    _check_answer(backend.name, job, signed)
            except BackendRefusal as refusal:
                if refusal.kind is not RefusalKind.UNSUPPORTED:  # declining a kind of request is not failing
                    self.breakers.record_failure(backend.name)
                self._on_outcome(backend.name, refusal.kind, time.perf_counter() - started)
                refusals.append(refusal)
                continue
            self.breakers.record_success(backend.name)
            self._on_outcome(backend.name, "signed", time.perf_counter() - started)
            return Signed(signed, backend.name)
        raise NoBackendSigned(refusals)

    def report_refusal(self, backend: str) -> None:
        """TikTok refused a signature this backend made and accepted another backend's for the same request:
        count it against the backend's breaker."""
        self.breakers.record_failure(backend)
        self._on_outcome(backend, "signature_refused", 0.0)

    async def health(self) -> list[BackendHealth]:
        report = []
        for backend in self.backends:
            if self.breakers.check(backend.name) is not None:
                report.append(BackendHealth(backend.name, False, "breaker open"))
                continue
            try:
                await backend.check()
            except BackendRefusal as refusal:
                report.append(BackendHealth(backend.name, False, f"{refusal.kind}: {refusal.message}"))
                continue
            report.append(BackendHealth(backend.name, True))
        return report

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()


def _check_answer(backend: str, job: SignJob, signed: SignedRequest) -> None:
    """A foreign backend's URL must be this request's, with signatures that decode and bind to it."""
    want, got = urls.split(urls.normalize(job.url)), urls.split(signed.url)
    unsigned = (
        urls.strip_params(want.query, urls.SIGNATURE_PARAMS),
        urls.strip_params(got.query, urls.SIGNATURE_PARAMS),
    )
    if want.base != got.base or unsigned[0] != unsigned[1]:
        raise BackendRefusal(backend, RefusalKind.BAD_ANSWER, "the signed URL is not the URL asked for")
    verdict = verify_request(signed.url, job.body, job.profile.user_agent, now_ms=job.now_ms, policy=_LENIENT)
    faults = [check.name for check in verdict.failures if check.name not in _NOT_FAULTS]
    if faults:
        raise BackendRefusal(backend, RefusalKind.BAD_ANSWER, "signatures fail " + ", ".join(faults))
