"""The objects the routes use, built once per app and reached through `request.app.state`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ttsign.config import Settings
from ttsign.service.connect import ConnectService
from ttsign.upstream.identity import IdentityPool
from ttsign.upstream.transport import Transport


@dataclass(frozen=True)
class Services:
    settings: Settings
    transport: Transport
    pool: IdentityPool
    connect: ConnectService


def services(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found
