"""The consumer socket's own timers (api/relay/socket.py `_forward`): no messages for the consumer's
closeInactiveWebSocketAfter closes 4006; past the lifetime, 4555. Driven with short timers on a stand-in
socket (the options parser holds real consumers to Euler's 30 s minimum)."""

from __future__ import annotations

import asyncio

import pytest

from ttsign.api.relay.socket import _forward
from ttsign.relay import CloseCode, Consumer, ConsumerOptions, Delivery, Features, Joined, RoomInfo

pytestmark = pytest.mark.timeout(10)


class StandInSocket:
    def __init__(self) -> None:
        from starlette.websockets import WebSocketState

        self.application_state = WebSocketState.CONNECTED
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def joined() -> Joined:
    return Joined(Consumer(8), RoomInfo("emu", "7390"), ())


async def test_a_quiet_room_closes_the_consumer_4006() -> None:
    ws, room = StandInSocket(), joined()
    options = ConsumerOptions("emu", features=Features(close_inactive_after_s=1))
    started = asyncio.get_running_loop().time()
    await _forward(ws, options, room, lifetime_s=60)  # type: ignore[arg-type]
    assert ws.closed == (CloseCode.NO_MESSAGES_TIMEOUT, "No messages received in timeout period, closing WebSocket")
    assert 0.9 <= asyncio.get_running_loop().time() - started < 5


async def test_messages_keep_the_consumer_open_until_its_lifetime_ends_4555() -> None:
    ws, room = StandInSocket(), joined()
    options = ConsumerOptions("emu", features=Features(close_inactive_after_s=1))

    async def chatter() -> None:
        while ws.closed is None:
            room.consumer.offer(Delivery(0, ({"type": "WebcastChatMessage", "data": {}},)))
            await asyncio.sleep(0.2)

    feeding = asyncio.create_task(chatter())
    await _forward(ws, options, room, lifetime_s=1.5)  # type: ignore[arg-type]
    feeding.cancel()
    assert ws.closed is not None and ws.closed[0] == CloseCode.MAX_LIFETIME_EXCEEDED
    assert len(ws.sent) >= 5  # it was delivering all along, past one quiet period
