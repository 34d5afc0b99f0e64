"""The signer backends as ttsign's own TikTok requests use them (upstream/signer.py's RequestSigner).

im/fetch, the socket query and chat sign through the same configured backends as sign_url, in the
environment of ttsign's own endpoint table, so an operator who puts `vendor-script` first follows TikTok's
signer for connects too. Every backend refusing is a SIGNER_UNAVAILABLE refusal, never an exception, so a
connect strategy that needs no signature (direct without X-Gnarly, an unsigned im/fetch) can still serve.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from ttsign.signers.backend import NoBackendSigned, SignJob
from ttsign.signers.chain import SignerChain
from ttsign.upstream.refusals import Refusal, RefusalCode
from ttsign.upstream.signer import NOTHING, Signed

logger = logging.getLogger(__name__)


class ChainSigner:
    def __init__(self, chain: SignerChain, *, observe: Callable[[float], None] | None = None) -> None:
        self._chain = chain
        self._observe = observe  # seconds per signature, e.g. the signing histogram of this purpose

    @property
    def backends(self) -> tuple[str, ...]:
        return self._chain.names

    async def sign(self, job: SignJob, rng: random.Random, *, besides: frozenset[str] = NOTHING) -> Signed | Refusal:
        started = time.perf_counter()
        try:
            return await self._chain.sign(job, rng, besides=besides)
        except NoBackendSigned as exc:
            reasons = ", ".join(f"{refusal.backend}: {refusal.kind}" for refusal in exc.refusals) or "none left"
            logger.warning("no signer backend signed %s %s: %s", job.method, job.url.split("?", 1)[0], reasons)
            return Refusal(RefusalCode.SIGNER_UNAVAILABLE, f"no signer backend could sign ({reasons})")
        finally:
            if self._observe is not None:
                self._observe(time.perf_counter() - started)

    def signature_refused(self, backend: str) -> None:
        self._chain.report_refusal(backend)
