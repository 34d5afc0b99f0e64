"""The FastAPI application factory: wires settings, the upstream engine and the use cases to the routes."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from ttsign.api import health
from ttsign.api.body_limit import BodyLimit
from ttsign.api.dialects import connect as connect_dialect
from ttsign.api.errors import install_error_handlers
from ttsign.api.state import Services
from ttsign.config import Settings
from ttsign.service.connect import ConnectService
from ttsign.upstream.identity import IdentityPool, bootstrap_identity
from ttsign.upstream.rooms import RoomDirectory
from ttsign.upstream.transport import CurlTransport, Transport, TransportOptions
from ttsign.upstream.webcast import WebcastClient

logger = logging.getLogger(__name__)


def build_services(settings: Settings, transport: Transport | None = None) -> Services:
    """Everything the routes need, from settings alone (plus an optional transport for tests)."""
    if transport is None:
        transport = CurlTransport(
            TransportOptions(
                connect_timeout_s=settings.upstream_connect_timeout_s,
                total_timeout_s=settings.upstream_total_timeout_s,
                proxy=settings.proxy,
                max_connections=settings.upstream_max_connections,
                max_body_bytes=settings.max_upstream_body_bytes,
            )
        )
    rng = random.SystemRandom()  # the edge owns randomness; signing never draws its own
    pool = IdentityPool(
        partial(bootstrap_identity, transport, settings.www_base, rng=rng),
        size=settings.identity_pool_size,
        max_age_s=settings.identity_max_age_s,
    )
    webcast = WebcastClient(
        transport, webcast_base=settings.webcast_base, contact_email=settings.contact_email, rng=rng
    )
    connect = ConnectService(
        pool,
        webcast,
        default_profile_name=settings.default_profile,
        honour_client_user_agent=settings.honour_client_user_agent,
        deadline_s=settings.upstream_total_timeout_s,
        rooms=RoomDirectory(transport, www_base=settings.www_base),
    )
    return Services(settings=settings, transport=transport, pool=pool, connect=connect)


def create_app(settings: Settings | None = None, *, transport: Transport | None = None) -> FastAPI:
    """A ready ASGI app. `transport` replaces the curl_cffi backend (tests plug a fake here)."""
    settings = settings or Settings()
    services = build_services(settings, transport)
    if not settings.contact_email:
        logger.warning("contact_email is not set: TikTok gets an empty contact_us= (set TTSIGN_CONTACT_EMAIL)")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await services.transport.aclose()

    # redirect_slashes=False: the clients do not follow redirects, so /x and /x/ are both served as-is.
    app = FastAPI(
        title="ttsign",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(connect_dialect.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_body_bytes)
    return app
