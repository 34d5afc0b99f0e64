"""The `native` backend: ttsign.signing in-process, in the configured signer environment (the default)."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

from ttsign.signers.backend import SignJob
from ttsign.signing.environment import DEFAULT_ENVIRONMENT, SignerEnvironment
from ttsign.signing.signer import SignedRequest, sign_job, sign_request


class NativeBackend:
    name = "native"

    def __init__(self, environment: SignerEnvironment = DEFAULT_ENVIRONMENT) -> None:
        self.environment = environment

    def sign_function(self) -> Callable[..., SignedRequest]:
        """`sign_request` bound to this environment, for the callers that sign synchronously."""
        return partial(sign_request, environment=self.environment)

    async def sign(self, job: SignJob, rng: random.Random) -> SignedRequest:
        """Sign in-process; a ValueError (a request no backend could sign, e.g. a bad method) propagates."""
        return sign_job(job, rng, environment=self.environment)

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
