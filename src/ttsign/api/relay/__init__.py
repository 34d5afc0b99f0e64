"""The relay's endpoints: the Euler-compatible WebSocket, server-sent events and the chat overlay page.
Only the mapping lives here; rooms, consumers and decoding are in ttsign.relay."""

from fastapi import APIRouter

from ttsign.api.relay import events, overlay, socket
from ttsign.config import Settings
from ttsign.relay import Relay, SessionPolicy, TikTokUpstream
from ttsign.service.connect import ConnectService

router = APIRouter()
router.include_router(socket.router)
router.include_router(events.router)
router.include_router(overlay.router)

__all__ = ["build_relay", "router"]


def build_relay(settings: Settings, connect: ConnectService) -> Relay:
    """The relay for an app: TikTok sockets opened through the connect use case, shaped by the settings."""
    policy = SessionPolicy(
        queue_size=settings.relay_queue_size,
        grace_s=settings.relay_grace_s,
        reconnect_attempts=settings.relay_reconnect_attempts,
        backoff_s=settings.relay_reconnect_backoff_s,
    )
    return Relay(TikTokUpstream(connect, open_timeout_s=settings.upstream_total_timeout_s * 4), policy)
