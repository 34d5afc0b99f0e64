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
from io import BytesIO
from typing import Protocol

from curl_cffi import AsyncCurl, Curl, CurlECode, CurlError, CurlInfo, CurlOpt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpstreamRequest:
    """One request to TikTok. `url` is sent byte for byte: signatures hash the exact query."""

    method: str
    url: str
    headers: Mapping[str, str]  # an empty value drops that header from the impersonation's defaults
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


# What curl_cffi's sessions ask for by default; an impersonation target may replace it with its browser's own.
_ACCEPT_ENCODING = b"gzip, deflate, br, zstd"


class CurlTransport:
    """curl_cffi backend: TLS/HTTP2 fingerprints of the identity's browser, strict timeouts, no cookie jar.

    Built on curl_cffi's low-level `Curl` handles and its asyncio multi driver (`AsyncCurl`) rather than its
    `AsyncSession`: a session re-applies every option, the whole browser impersonation included, to a handle
    on each request and parses every response into a rich object, which cost about 250 µs of CPU per
    request, a quarter of ttsign's work per connect. Here each handle is configured once for its
    impersonation target and reused; a request only sets its URL, headers and buffers. Handles share the
    multi handle's connection cache, so keep-alive works across them as before.
    """

    def __init__(self, options: TransportOptions | None = None) -> None:
        self._options = options or TransportOptions()
        self._multi: AsyncCurl | None = None
        self._slots: asyncio.Semaphore | None = None
        self._idle: dict[str, list[Curl]] = {}  # impersonation target ("" for none) -> configured free handles

    def _driver(self) -> tuple[AsyncCurl, asyncio.Semaphore]:
        # Created lazily: the multi driver binds to the running event loop.
        if self._multi is None or self._slots is None:
            self._multi = AsyncCurl()
            self._slots = asyncio.Semaphore(self._options.max_connections)
        return self._multi, self._slots

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        multi, slots = self._driver()
        async with slots:
            curl = self._take(request.impersonate)
            body, head = _CappedBuffer(self._options.max_body_bytes), BytesIO()
            reusable = False
            try:
                _prepare(curl, request, body, head, proxied=self._options.proxy is not None)
                await self._perform(multi, curl)
                response = UpstreamResponse(
                    status=int(curl.getinfo(CurlInfo.RESPONSE_CODE)),  # type: ignore[arg-type]
                    headers=_last_header_block(head.getvalue()),
                    body=body.getvalue(),
                )
                reusable = True
                return response
            finally:
                curl.clean_handles_and_buffers()
                self._give_back(request.impersonate, curl, reusable)

    async def _perform(self, multi: AsyncCurl, curl: Curl) -> None:
        opts = self._options
        try:
            # curl enforces the total timeout itself (TIMEOUT_MS), and AsyncCurl re-checks curl's timers every
            # 100 ms in case a timer callback was missed. No asyncio timer here: callers bound the whole call
            # (the connect budget), and a second timer per request cost about 1% of a connect's CPU.
            await multi.add_handle(curl)
        except BodyTooLarge:
            raise
        except CurlError as exc:
            if exc.code == CurlECode.OPERATION_TIMEDOUT:
                raise TransportTimeout(f"no answer within {opts.total_timeout_s:g} s") from exc
            raise TransportError(_short(exc)) from exc
        except BaseException:  # cancelled: the transfer must leave the multi before its handle is reused
            multi.remove_handle(curl)
            raise

    def _take(self, target: str) -> Curl:
        idle = self._idle.get(target)
        return idle.pop() if idle else self._new_handle(target)

    def _give_back(self, target: str, curl: Curl, reusable: bool) -> None:
        # A handle whose transfer failed may hold half-done state: close it, a fresh one costs little.
        if reusable and self._multi is not None:
            self._idle.setdefault(target, []).append(curl)
        else:
            curl.close()

    def _new_handle(self, target: str) -> Curl:
        opts = self._options
        curl = Curl()
        curl.setopt(CurlOpt.ACCEPT_ENCODING, _ACCEPT_ENCODING)
        if target and curl.impersonate(target, default_headers=True) != 0:  # explicit targets (chrome131)
            curl.close()
            raise TransportError(f"curl_cffi cannot impersonate {target}")
        curl.setopt(CurlOpt.CONNECTTIMEOUT_MS, int(opts.connect_timeout_s * 1000))
        curl.setopt(CurlOpt.TIMEOUT_MS, int(opts.total_timeout_s * 1000))
        curl.setopt(CurlOpt.FOLLOWLOCATION, 0)
        curl.setopt(CurlOpt.NOSIGNAL, 1)
        if opts.proxy is not None:
            curl.setopt(CurlOpt.PROXY, opts.proxy.encode())
            curl.setopt(CurlOpt.PROXY_CREDENTIAL_NO_REUSE, 1)
        return curl

    async def aclose(self) -> None:
        multi, self._multi, self._slots = self._multi, None, None
        idle, self._idle = self._idle, {}
        if multi is not None:
            await multi.close()  # type: ignore[no-untyped-call]
        for handles in idle.values():
            for curl in handles:
                curl.close()


class _CappedBuffer:
    """The response body, refused (the transfer aborted) once it passes the configured maximum."""

    def __init__(self, max_bytes: int) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._max_bytes = max_bytes

    def write(self, data: bytes) -> int:  # curl_cffi's write callback hands each received chunk here
        self._size += len(data)
        if self._size > self._max_bytes:
            raise BodyTooLarge(f"body of over {self._max_bytes} bytes")
        self._chunks.append(data)
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self._chunks)


def _prepare(curl: Curl, request: UpstreamRequest, body: _CappedBuffer, head: BytesIO, *, proxied: bool) -> None:
    """The per-request options of a reused handle: every one a previous request may have set is set again."""
    if request.method == "GET":
        curl.setopt(CurlOpt.HTTPGET, 1)
    elif request.method == "POST":
        # TikTok's POSTs (room/chat) carry everything in the signed query: an empty form body.
        curl.setopt(CurlOpt.POSTFIELDSIZE, 0)
        curl.setopt(CurlOpt.POSTFIELDS, b"")
    else:
        raise TransportError(f"unsupported method {request.method}")
    curl.setopt(CurlOpt.URL, request.url.encode())
    # "Name:" with nothing after it is curl's way to leave out a header it would add itself.
    lines = [(f"{name}: {value}" if value else f"{name}:").encode() for name, value in request.headers.items()]
    lines.append(b"Expect:")  # no 100-continue round trip, as browsers
    curl.setopt(CurlOpt.HTTPHEADER, lines)
    if proxied:  # CONNECT tunnels for TLS targets, plain forwarding for http ones (as curl_cffi sessions do)
        curl.setopt(CurlOpt.HTTPPROXYTUNNEL, int(request.url.startswith("https://")))
    curl.setopt(CurlOpt.WRITEDATA, body)
    curl.setopt(CurlOpt.HEADERDATA, head)


def _last_header_block(raw: bytes) -> tuple[tuple[str, str], ...]:
    """Header lines of the final response (after any 1xx or proxy CONNECT answers), names lower-cased."""
    headers: list[tuple[str, str]] = []
    for line in raw.decode("latin-1").split("\r\n"):
        if line.startswith("HTTP/"):
            headers = []  # a new response begins: earlier blocks were interim
        elif line[:1] in (" ", "\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
        elif ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    return tuple(headers)


def _short(exc: Exception) -> str:
    # curl messages can be long and may echo the URL (which carries tokens): keep the first clause only.
    text = str(exc).split(". See ", 1)[0]
    return text.split("?", 1)[0][:200]
