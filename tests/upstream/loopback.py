"""A tiny HTTP/1.1 server on 127.0.0.1 (port 0) to test the real transport over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str  # exactly as it arrived on the wire
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay_s: float = 0.0
    reset: bool = False  # close the socket without answering


Handler = Callable[[SeenRequest], Awaitable[Reply] | Reply]


class LoopbackServer:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.seen: list[SeenRequest] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = [tuple(line.split(": ", 1)) for line in lines[1:] if ": " in line]
                seen = SeenRequest(method, target, headers)  # type: ignore[arg-type]
                self.seen.append(seen)
                reply = self._handler(seen)
                if not isinstance(reply, Reply):
                    reply = await reply
                if reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                if reply.reset:
                    writer.transport.abort()
                    return
                out = [f"HTTP/1.1 {reply.status} X", f"Content-Length: {len(reply.body)}"]
                out += [f"{k}: {v}" for k, v in reply.headers]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + reply.body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
