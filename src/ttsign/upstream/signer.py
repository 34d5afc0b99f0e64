"""What signs ttsign's own TikTok requests (im/fetch, the socket query, chat), as the upstream clients see it.

One async call that says which backend signed, or a refusal when none could; and a way to tell the signer
that TikTok refused a backend's signature while another backend's was accepted for the same request, which
is the only evidence that the signature, not the identity, was at fault (an empty 200 or a 403 says nothing
about which). The server passes the configured signer backends (signers/request_signer.py); tests and tools
pass `InProcessSigner`, ttsign's native signer called in-process.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ttsign.signing.signer import SignedRequest, SignJob, sign_job
from ttsign.upstream.refusals import SIGNATURE_REFUSALS, Refusal, RefusalCode

NATIVE = "native"
NOTHING: frozenset[str] = frozenset()  # no backend ruled out


@dataclass(frozen=True)
class Signed:
    request: SignedRequest
    backend: str  # which signer backend signed it


class RequestSigner(Protocol):
    @property
    def backends(self) -> tuple[str, ...]:
        """The backends it may sign with, in order."""
        ...

    async def sign(self, job: SignJob, rng: random.Random, *, besides: frozenset[str] = NOTHING) -> Signed | Refusal:
        """Signed by the first backend not in `besides` that can sign, else a SIGNER_UNAVAILABLE refusal."""
        ...

    def signature_refused(self, backend: str) -> None:
        """TikTok refused `backend`'s signature and accepted another backend's for the same request."""
        ...


JobFunction = Callable[[SignJob, random.Random], SignedRequest]


class InProcessSigner:
    """A synchronous signing function (the native signer, `sign_job`) as a RequestSigner with one backend."""

    backends = (NATIVE,)

    def __init__(self, function: JobFunction = sign_job) -> None:
        self._function = function

    async def sign(self, job: SignJob, rng: random.Random, *, besides: frozenset[str] = NOTHING) -> Signed | Refusal:
        if NATIVE in besides:
            return Refusal(RefusalCode.SIGNER_UNAVAILABLE, "the native signer was refused already")
        signed = self._function(job, rng)
        return Signed(signed, NATIVE)

    def signature_refused(self, backend: str) -> None:
        return None


class SignedBy(Protocol):
    @property
    def backend(self) -> str:
        """The signer backend that signed it; "" when nothing was signed."""
        ...


P = TypeVar("P", bound=SignedBy)
R = TypeVar("R")


async def until_a_signature_is_accepted(
    signer: RequestSigner,
    prepare: Callable[[frozenset[str]], Awaitable[P | Refusal]],
    attempt: Callable[[P], Awaitable[R | Refusal]],
    *,
    before_next: Callable[[], Awaitable[bool]] | None = None,
) -> R | Refusal:
    """`attempt` what `prepare` signed, signed again by each next backend while TikTok answers as it answers a
    bad signature (SIGNATURE_REFUSALS). `prepare(besides)` signs with the first backend not in `besides`.
    Backends are blamed only when a later one's attempt succeeds; when every backend was refused alike, or no
    further one can sign, or `before_next` says no, TikTok's last answer stands."""
    refused = NOTHING
    tiktoks_refusal: Refusal | None = None
    while True:
        prepared = await prepare(refused)
        if isinstance(prepared, Refusal):
            return tiktoks_refusal or prepared  # no (further) backend could sign
        outcome = await attempt(prepared)
        if not isinstance(outcome, Refusal):
            for backend in refused:  # another backend's signature was accepted where these were not
                signer.signature_refused(backend)
            return outcome
        if outcome.code not in SIGNATURE_REFUSALS or not prepared.backend:
            return outcome
        refused |= {prepared.backend}
        tiktoks_refusal = outcome
        if len(refused) >= len(signer.backends):
            return outcome  # every backend refused alike: the identity or the path, not a signature
        if before_next is not None and not await before_next():
            return outcome
