"""The event relay: one TikTok push socket per live room, its events fanned out to every consumer.

Pure parts (`frames`, `events`, `options`, `address`) read and build bytes and values; `session` and `hub`
hold the rooms and their consumers; `tiktok` opens the real sockets. The API layer maps the consumer
endpoints (api/relay_routes.py).
"""

from ttsign.relay.close_codes import CloseCode, close_reason
from ttsign.relay.consumer import Consumer, Delivery, Ending
from ttsign.relay.hub import Joined, Relay
from ttsign.relay.options import ConsumerOptions, Features, InvalidOptions, parse_options
from ttsign.relay.session import RoomInfo, RoomSession, SessionPolicy
from ttsign.relay.tiktok import TikTokUpstream

__all__ = [
    "CloseCode",
    "Consumer",
    "ConsumerOptions",
    "Delivery",
    "Ending",
    "Features",
    "InvalidOptions",
    "Joined",
    "Relay",
    "RoomInfo",
    "RoomSession",
    "SessionPolicy",
    "TikTokUpstream",
    "close_reason",
    "parse_options",
]
