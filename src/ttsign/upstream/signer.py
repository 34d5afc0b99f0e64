"""What signs ttsign's own TikTok requests (im/fetch, the socket query, chat), as the upstream clients see it.

One async call that says which backend signed, or a refusal when none could; and a way to tell the signer
that TikTok refused a backend's signature while another backend's was accepted for the same request, which
is the only evidence that the signature, not the identity, was at fault (an empty 200 or a 403 says nothing
about which). The server passes the configured signer backends (signers/request_signer.py); tests and tools
pass `InProcessSigner`, ttsign's native signer called in-process.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ttsign.signing.signer import SignedRequest, SignJob, sign_job
from ttsign.upstream.refusals import Refusal, RefusalCode

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
