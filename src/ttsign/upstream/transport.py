"""HTTP transport to TikTok: one small protocol, and the curl_cffi backend that impersonates browsers.

Cookies are never kept by the transport: every identity owns its cookies and sends them as an explicit
`Cookie` header. A shared jar would leak cookies between identities, and its domain matching would drop
`.tiktok.com` cookies when TikTok is the emulator on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from curl_cffi.curl import CurlError
from curl_cffi.requests import AsyncSession, Response
from curl_cffi.requests.exceptions import RequestException, Timeout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpstreamRequest:
    """One request to TikTok. `url` is sent byte for byte: signatures hash the exact query."""

    method: str
    url: str
    headers: Mapping[str, str]
    impersonate: str = ""


@dataclass(frozen=True)
class UpstreamResponse:
    """A raw TikTok answer. Header names are lower-case; repeated headers keep every value."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for name, value in self.headers:
            index.setdefault(name, value)
        object.__setattr__(self, "_index", index)

    def header(self, name: str) -> str | None:
        """The first value of a header, by lower-case name."""
        return self._index.get(name)

    def header_list(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    @property
    def first_headers(self) -> dict[str, str]:
        """Headers as a dict (first value wins), for pure classifiers."""
        return dict(self._index)


class TransportError(Exception):
    """The request produced no response (connection, proxy or protocol failure)."""


class TransportTimeout(TransportError):
    """The request did not complete within the configured timeout."""


class BodyTooLarge(TransportError):
    """The response body exceeded the configured maximum."""


class Transport(Protocol):
    """What the upstream engine needs from HTTP. Tests plug in a fake."""

    async def send(self, request: UpstreamRequest) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class TransportOptions:
    connect_timeout_s: float = 1.0
    total_timeout_s: float = 2.5
    proxy: str | None = None
    max_connections: int = 64
    max_body_bytes: int = 4 * 1024 * 1024


class CurlTransport:
    """curl_cffi backend: TLS/HTTP2 fingerprints of the identity's browser, strict timeouts, no cookie jar."""

    def __init__(self, options: TransportOptions | None = None) -> None:
        self._options = options or TransportOptions()
        self._session: AsyncSession[Response] | None = None

    def _get_session(self) -> AsyncSession[Response]:
        # Created lazily: the session binds to the running event loop.
        if self._session is None:
            opts = self._options
            self._session = AsyncSession(
                max_clients=opts.max_connections,
                proxy=opts.proxy,
                allow_redirects=False,
                trust_env=False,
                discard_cookies=True,
            )
        return self._session

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        opts = self._options
        # curl adds connect and read parts into one overall limit, so split the total budget.
        read_budget = max(opts.total_timeout_s - opts.connect_timeout_s, 0.001)
        try:
            async with asyncio.timeout(opts.total_timeout_s + 0.5):  # backstop if curl's own timer misfires
                response = await self._get_session().request(
                    request.method,  # type: ignore[arg-type]
                    request.url,
                    headers=dict(request.headers),
                    impersonate=request.impersonate or None,  # type: ignore[arg-type]
                    timeout=(opts.connect_timeout_s, read_budget),
                    quote=False,
                    discard_cookies=True,
                )
        except (Timeout, TimeoutError) as exc:
            raise TransportTimeout(f"no answer within {opts.total_timeout_s:g} s") from exc
        except (RequestException, CurlError) as exc:
            raise TransportError(_short(exc)) from exc
        body = response.content
        if len(body) > opts.max_body_bytes:
            raise BodyTooLarge(f"body of {len(body)} bytes exceeds {opts.max_body_bytes}")
        headers = tuple((name.lower(), value or "") for name, value in response.headers.multi_items())
        return UpstreamResponse(status=response.status_code, headers=headers, body=body)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _short(exc: Exception) -> str:
    # curl messages can be long and may echo the URL (which carries tokens): keep the first clause only.
    text = str(exc).split(". See ", 1)[0]
    return text.split("?", 1)[0][:200]
