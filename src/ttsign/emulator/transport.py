"""uvicorn protocol classes with the two behaviours the emulator needs below the ASGI layer.

- HTTP: remember each connection's transport by client address, so a fault can reset it (RST).
- WebSocket: answer a client's *empty* close frame with close code 1000, as the reference servers the client
  event lists were recorded against do (websockets would echo the empty frame, which clients report as 1005).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.server import ServerProtocol

from ttsign.emulator.state import Emulator

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _BaseHTTP
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    _BaseHTTP = H11Protocol  # type: ignore[assignment,misc]


def tracking_http_protocol(emu: Emulator) -> type[Any]:
    class Tracking(_BaseHTTP):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            for key in [k for k, t in emu.transports.items() if t.is_closing()]:
                del emu.transports[key]
            peer = transport.get_extra_info("peername")
            if peer:
                emu.transports[(str(peer[0]), int(peer[1]))] = transport

    return Tracking


class _CloseWith1000(ServerProtocol):
    def send_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE and not frame.data:
            frame = Frame(Opcode.CLOSE, Close(1000, "").serialize())
        super().send_frame(frame)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Same object, one overridden method: keeps every setting uvicorn gave the connection.
        self.conn.__class__ = _CloseWith1000
