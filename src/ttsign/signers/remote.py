"""The `remote` backend: another Euler-compatible sign server (the hosted one, or another ttsign).

It POSTs the Euler sign_url body to the configured route and takes `response.signedUrl` back. The key is
a secret: it is sent only as the `X-Api-Key` header and never appears in a refusal, log line or metric.
Meant as the last resort in the chain: a request leaves this host, and the remote's identity signs it.
"""

from __future__ import annotations

import json
import random
from typing import Any

from curl_cffi.requests import AsyncSession

from ttsign.signers.backend import BackendRefusal, RefusalKind, SignJob
from ttsign.signing import url as urls
from ttsign.signing.sdk_session import SdkSession
from ttsign.signing.signer import SignedRequest, request_headers

_SIGNATURES = ("msToken", "X-Bogus", "X-Gnarly", "_signature")


class RemoteBackend:
    name = "remote"

    def __init__(self, sign_url: str, *, api_key: str | None = None, timeout_s: float = 5.0) -> None:
        if not sign_url.startswith(("http://", "https://")):
            raise ValueError("the remote signer's sign_url must be an http(s) URL")
        self._sign_url = sign_url
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._session: AsyncSession[Any] | None = None

    def _client(self) -> AsyncSession[Any]:
        if self._session is None:
            self._session = AsyncSession(timeout=self._timeout_s)
        return self._session

    def _refuse(self, kind: RefusalKind, message: str) -> BackendRefusal:
        return BackendRefusal(self.name, kind, message)

    async def _post(self, body: dict[str, str]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["X-Api-Key"] = self._api_key
        try:
            reply = await self._client().post(self._sign_url, data=json.dumps(body), headers=headers)
        except Exception as exc:  # curl_cffi raises its own family; the text may hold the URL, so only the type
            raise self._refuse(RefusalKind.UNAVAILABLE, f"no answer ({type(exc).__name__})") from None
        if reply.status_code == 400:  # the remote's policy (a URL it does not sign), not its failure
            raise self._refuse(RefusalKind.UNSUPPORTED, "HTTP 400: the remote does not sign this request")
        if reply.status_code != 200:
            raise self._refuse(RefusalKind.REFUSED, f"HTTP {reply.status_code}")
        try:
            data = json.loads(reply.content)
        except ValueError:
            raise self._refuse(RefusalKind.BAD_ANSWER, "the answer is not JSON") from None
        response = data.get("response") if isinstance(data, dict) else None
        if not isinstance(response, dict) or not isinstance(response.get("signedUrl"), str):
            raise self._refuse(RefusalKind.BAD_ANSWER, "the answer has no response.signedUrl")
        return response

    async def sign(self, job: SignJob, rng: random.Random) -> SignedRequest:
        if not job.url.startswith(("https://", "http://")):
            # An Euler sign_url route signs http(s) requests; the socket query (wss://) goes to the next backend.
            raise self._refuse(RefusalKind.UNSUPPORTED, "a sign_url route signs http(s) URLs only")
        body = {"url": job.url, "userAgent": job.profile.user_agent, "method": job.method}
        if job.body:
            body["payload"] = job.body
        response = await self._post(body)
        if response.get("userAgent") not in (None, job.profile.user_agent):
            raise self._refuse(RefusalKind.BAD_ANSWER, "signed for another User-Agent than the one asked for")
        signed_url = str(response["signedUrl"])
        query = urls.split(signed_url).query
        tokens = {name: urls.find_param(query, name) for name in _SIGNATURES}
        page = job.session or SdkSession.start(rng, job.now_ms)  # the remote keeps its own page state
        return SignedRequest(
            job.method,
            signed_url,
            request_headers(job.profile),
            {name: value for name, value in tokens.items() if value is not None},
            page,
        )

    async def check(self) -> None:
        return None  # a probe would spend the remote's quota; its breaker says how it has been doing

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
