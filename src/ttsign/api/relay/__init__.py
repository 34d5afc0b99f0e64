"""The relay's endpoints: the Euler-compatible WebSocket, server-sent events and the chat overlay page.
Only the mapping lives here; rooms, consumers and decoding are in ttsign.relay."""

import secrets
from functools import partial

from fastapi import APIRouter, FastAPI

from ttsign.api.relay import client_mode, events, overlay, socket
from ttsign.api.relay.door import PushAddress, RelayClientDoor
from ttsign.api.state import Services
from ttsign.config import Settings
from ttsign.metrics import Metrics
from ttsign.relay import Relay, SessionPolicy, TikTokUpstream
from ttsign.relay.heap import FrozenConsumers
from ttsign.relay.shared import SharedUpstream
from ttsign.relay.upstream import Upstream
from ttsign.service.connect import ConnectService
from ttsign.store.redis_relay import RelayExchange, relay_client

router = APIRouter()
router.include_router(socket.router)
router.include_router(events.router)
router.include_router(overlay.router)
router.include_router(client_mode.router)

__all__ = ["RelayMetrics", "build_relay", "router", "serve_relay_strategy"]


class RelayMetrics:
    """The relay's reports as Prometheus samples."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def counts(self, rooms: int, consumers: int) -> None:
        self._metrics.relay_rooms.set(rooms)
        self._metrics.relay_consumers.set(consumers)

    def socket_opened(self) -> None:
        self._metrics.relay_upstream_sockets.inc()

    def consumer_closed(self, code: int) -> None:
        self._metrics.relay_consumer_closes.labels(str(code)).inc()


def build_relay(settings: Settings, connect: ConnectService, metrics: Metrics | None = None) -> Relay:
    """The relay for an app: TikTok sockets opened through the connect use case, shaped by the settings."""
    policy = SessionPolicy(
        queue_size=settings.relay_queue_size,
        grace_s=settings.relay_grace_s,
        reconnect_attempts=settings.relay_reconnect_attempts,
        backoff_s=settings.relay_reconnect_backoff_s,
    )
    upstream: Upstream = TikTokUpstream(connect, open_timeout_s=settings.upstream_total_timeout_s * 4)
    if settings.redis_url:
        client = relay_client(settings.redis_url, timeout_s=settings.redis_timeout_s)
        exchange = RelayExchange(client, replica=secrets.token_hex(6), prefix=settings.redis_key_prefix)
        upstream = SharedUpstream(upstream, exchange, lease_s=settings.relay_lease_s)
    observer = RelayMetrics(metrics) if metrics is not None else None
    return Relay(upstream, policy, observer=observer, heap=FrozenConsumers())


def serve_relay_strategy(app: FastAPI, services: Services, relay: Relay) -> None:
    """Plug the relay into the connect strategies (`relay` in connect_strategies) and note, per request,
    where its client finds this server's push socket."""
    if "relay" not in services.settings.connect_strategies:
        return
    services.connect.relay_door.attach(RelayClientDoor(relay, partial(client_mode.ticket_secret, services)))
    app.add_middleware(PushAddress)
