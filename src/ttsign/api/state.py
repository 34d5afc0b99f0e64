"""The objects the routes use, built once per app and reached through `request.app.state`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from fastapi import Request

from ttsign.config import Settings
from ttsign.service.admission import Admission
from ttsign.service.chat import ChatService
from ttsign.service.connect import ConnectService
from ttsign.service.keys import KeyService
from ttsign.service.limits import RateLimiter
from ttsign.service.room_lookup import RoomLookupService
from ttsign.service.sign import SignService
from ttsign.service.usage import UsageRecorder, UsageReport
from ttsign.signers.chain import SignerChain
from ttsign.store.base import KeyStore
from ttsign.upstream.identity import IdentityPool
from ttsign.upstream.transport import Transport


@dataclass(frozen=True)
class Services:
    settings: Settings
    transport: Transport
    pool: IdentityPool
    connect: ConnectService
    store: KeyStore
    keys: KeyService
    limiter: RateLimiter
    admission: Admission
    sign: SignService
    rooms: RoomLookupService
    chat: ChatService
    usage: UsageRecorder | None = None  # None: usage accounting is off
    usage_report: UsageReport | None = None
    signers: SignerChain | None = None  # the signer backends sign_url goes through
    closers: tuple[Callable[[], Awaitable[None]], ...] = ()  # run at shutdown, after the store closes
    background: tuple[Callable[[], AbstractAsyncContextManager[None]], ...] = ()  # entered for the app's lifespan


def services(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found
