"""What the admin routes share, built once per app: sessions, the console's services, and the login throttle."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.datastructures import State

from ttsign.api.admin.session import AdminSessions
from ttsign.api.state import Services
from ttsign.config import Settings
from ttsign.metrics import Metrics
from ttsign.service.console import Console
from ttsign.service.live_picture import LivePicture
from ttsign.store.base import Limits
from ttsign.upstream.identity import ConnectBudget

WRONG_SECRETS_PER_MINUTE = 5


class LoginAttempts:
    """Wrong admin secrets per address: a few a minute, then refused for a while (guessing is pointless anyway
    with 32+ characters, but a flood of guesses is worth stopping and noticing). Per process, in memory."""

    def __init__(self, per_minute: int = WRONG_SECRETS_PER_MINUTE) -> None:
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def allowed(self, address: str) -> bool:
        return await self._limiter.test(self._item, "admin-login", address)

    async def failed(self, address: str) -> None:
        await self._limiter.hit(self._item, "admin-login", address)


@dataclass(frozen=True)
class ConsoleApp:
    sessions: AdminSessions
    console: Console
    live: LivePicture
    login_attempts: LoginAttempts
    budget: ConnectBudget | None  # the direct strategy's socket-connect budget, read for the identity table
    main_state: State  # the main app's state (the relay lives there), also when served on the admin port


def build_console_app(settings: Settings, svc: Services, metrics: Metrics, main_state: State) -> ConsoleApp:
    assert settings.admin_secret is not None
    budget = None
    if "direct" in settings.connect_strategies:
        # Reads the counts the direct strategy's own ConnectBudget keeps, in the same shared storage.
        budget = ConnectBudget(settings.identity_socket_connects_per_hour, svc.limiter.storage)
    return ConsoleApp(
        sessions=AdminSessions(settings.admin_secret, settings.admin_session_ttl_s),
        console=Console(
            svc.keys,
            svc.usage_report,
            svc.usage,
            default_limits=Limits(settings.key_per_minute, settings.key_per_hour, settings.key_per_day),
        ),
        live=LivePicture(metrics),
        login_attempts=LoginAttempts(),
        budget=budget,
        main_state=main_state,
    )


def console_app(request: Request) -> ConsoleApp:
    found = request.app.state.admin_console
    assert isinstance(found, ConsoleApp)
    return found
