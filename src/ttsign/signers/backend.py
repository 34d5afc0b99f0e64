"""The one interface every signer backend implements (the httpx transport pattern).

A backend turns a `SignJob` into a `SignedRequest` or refuses with a typed `BackendRefusal`; the chain
(signers/chain.py) tries the configured backends in order. `native` signs in-process with
ttsign.signing; `vendor-script` runs TikTok's own webmssdk.js in Node workers; `remote` asks another
Euler-compatible sign server.
"""

from __future__ import annotations

import random
from enum import StrEnum
from typing import Protocol

from ttsign.signing.signer import SignedRequest, SignJob

# SignJob, what every backend takes, is defined beside what it gives (signing/signer.py).
__all__ = ["BackendRefusal", "NoBackendSigned", "RefusalKind", "SignJob", "SignerBackend"]


class RefusalKind(StrEnum):
    """Why a backend did not sign; each is a metric outcome and part of the refusal's message."""

    CRASH = "worker_crash"  # the worker process died (it is restarted)
    HANG = "worker_timeout"  # no answer in time (the worker is killed and restarted)
    BAD_BUNDLE = "bad_bundle"  # the vendor script does not load or lacks its entry points
    BAD_ANSWER = "bad_answer"  # an answer that is not a usable signed request
    UNAVAILABLE = "unavailable"  # cannot be reached or not configured
    REFUSED = "refused"  # the backend (e.g. a remote server) said no
    CIRCUIT_OPEN = "circuit_open"  # skipped: its breaker is open after repeated failures
    UNSUPPORTED = "unsupported"  # not a request this backend signs (e.g. a socket URL to a sign_url route): no fault


class BackendRefusal(Exception):
    """A backend did not sign: which one, why (`kind`) and a message for the operator."""

    def __init__(self, backend: str, kind: RefusalKind, message: str) -> None:
        super().__init__(f"{backend}: {kind}: {message}")
        self.backend = backend
        self.kind = kind
        self.message = message


class NoBackendSigned(Exception):
    """Every configured backend refused; `refusals` says why, in order."""

    def __init__(self, refusals: list[BackendRefusal]) -> None:
        super().__init__("no signer backend signed: " + "; ".join(str(r) for r in refusals))
        self.refusals = refusals


class SignerBackend(Protocol):
    name: str

    async def sign(self, job: SignJob, rng: random.Random) -> SignedRequest:
        """Sign `job`, or raise BackendRefusal."""
        ...

    async def check(self) -> None:
        """Raise BackendRefusal when the backend cannot sign now (used by /readyz)."""
        ...

    async def aclose(self) -> None: ...
