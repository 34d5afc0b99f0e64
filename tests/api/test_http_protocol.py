"""The uvicorn protocol that sends each response in one write, driven through uvicorn itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn import Config
from uvicorn.server import ServerState

from ttsign.api.http_protocol import HeadHoldingTransport, OneWriteHttpProtocol


class RecordingTransport(asyncio.Transport):
    """Every write as it reached the socket, and whether the connection was closed (and after what)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed_after: int | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        if self.closed_after is None:
            self.closed_after = len(self.writes)

    def is_closing(self) -> bool:
        return self.closed_after is not None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"got": body.decode()})


APP = Starlette(routes=[Route("/echo", echo, methods=["GET", "HEAD", "POST"])])


async def exchange(raw: bytes) -> RecordingTransport:
    config = Config(APP, http=OneWriteHttpProtocol, lifespan="off", access_log=False, log_config=None)
    protocol = OneWriteHttpProtocol(config, ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(raw)
    for _ in range(100):  # the request runs as a task: let it finish
        if protocol.cycle is not None and protocol.cycle.response_complete:
            break
        await asyncio.sleep(0)
    return transport  # the connection stays open unless uvicorn closed it


async def test_head_and_body_leave_in_one_write() -> None:
    transport = await exchange(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b'\r\n\r\n{"got":""}')


async def test_a_response_without_body_bytes_still_goes_out() -> None:
    transport = await exchange(b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and transport.writes[0].endswith(b"\r\n\r\n")


async def test_100_continue_is_not_held_back() -> None:
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
    transport = await exchange(request)
    assert transport.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(transport.writes) == 2 and transport.writes[1].endswith(b'{"got":"hi"}')


async def test_a_closing_connection_gets_its_whole_answer_first() -> None:
    transport = await exchange(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b'{"got":""}')
    assert transport.closed_after == 1


@pytest.mark.parametrize("data", [b"HTTP/1.1 200 OK\r\n\r\n", b"HTTP/1.1 404 Not Found\r\n\r\n"])
def test_a_held_head_is_flushed_on_close(data: bytes) -> None:
    inner = RecordingTransport()
    holder = HeadHoldingTransport(inner)
    holder.write(data)
    assert inner.writes == []
    holder.close()
    assert inner.writes == [data] and inner.closed_after == 1
