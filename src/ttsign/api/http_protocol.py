"""uvicorn's httptools protocol, sending each response's head and body in one write.

uvicorn writes the status line and headers the moment the app starts its response, and the body when it
arrives: two send() system calls, two TCP segments, and a peer (a client, or nginx in front of replicas)
woken twice for one answer. Every ttsign answer is a single body message right after its start, so the
head is held back until the response's first body write and both leave in one call. The kernel side of
the first write was the most expensive single line of a connect (py-spy: 7% of ttsign's CPU at
concurrency 50, with the second write another 3%).

Nothing waits on the held head: it goes out with the next write, when the response completes (a HEAD
request or an empty body writes nothing), or before the connection closes. Interim answers (1xx: 100
Continue, 101 Switching Protocols) are never held, since the peer waits for them.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_STATUS_LINE_START = b"HTTP/1.1 "
_INTERIM = b"HTTP/1.1 1"


class HeadHoldingTransport:
    """Stands in for the connection's transport: holds a response head until the bytes that follow it."""

    __slots__ = ("_head", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif data.startswith(_STATUS_LINE_START) and not data.startswith(_INTERIM):
            self._head = data
        else:
            self._transport.write(data)

    def flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # everything else (extra info, set_protocol, ...) as it is
        return getattr(self._transport, name)


class OneWriteHttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose responses leave in one write (see the module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Flow control and the peer addresses were taken from the real transport above; from here on the
        # protocol, and every request cycle it starts, writes through the holder.
        self.transport = cast(asyncio.Transport, HeadHoldingTransport(transport))

    def on_response_complete(self) -> None:
        cast(HeadHoldingTransport, self.transport).flush()
        super().on_response_complete()
