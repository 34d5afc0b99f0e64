"""The FastAPI application factory: wires settings, the upstream engine and the use cases to the routes."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from fastapi import FastAPI

from ttsign import __version__
from ttsign.api import accounts, admin, docs, health, openapi, ops
from ttsign.api import selftest as selftest_route
from ttsign.api.application import Application
from ttsign.api.dialects import chat as chat_dialect
from ttsign.api.dialects import connect as connect_dialect
from ttsign.api.dialects import rooms as rooms_dialect
from ttsign.api.dialects import sign_url as sign_url_dialect
from ttsign.api.dialects import signing_encrypt as signing_encrypt_dialect
from ttsign.api.errors import install_error_handlers
from ttsign.api.hot_routes import HotRoutes
from ttsign.api.in_flight import InFlightLimit, InFlightSlots
from ttsign.api.observe import Observe
from ttsign.api.relay import build_relay, serve_relay_strategy
from ttsign.api.relay import router as relay_router
from ttsign.api.request_limits import RequestLimits
from ttsign.api.resilience import (
    connect_breakers,
    count_retries,
    count_strategy_outcomes,
    retry_policy,
    strategy_breakers,
)
from ttsign.api.state import Services
from ttsign.config import Settings
from ttsign.metrics import Metrics, timed
from ttsign.randomness import BufferedSystemRandom
from ttsign.service.admission import AccessPolicy, Admission
from ttsign.service.breaker_sharing import BreakerSharing
from ttsign.service.chat import ChatService
from ttsign.service.connect import ConnectService
from ttsign.service.jwt_auth import JwtAuthority
from ttsign.service.keys import KeyService
from ttsign.service.limits import RateLimiter
from ttsign.service.new_identities import NewIdentityBudget
from ttsign.service.policy import SigningPolicy
from ttsign.service.room_lookup import RoomLookupService
from ttsign.service.scope import CreatorScope
from ttsign.service.sign import SignService
from ttsign.service.usage import UsageRecorder, UsageReport
from ttsign.signers.factory import build_chain, native_backend
from ttsign.signers.native import NativeBackend
from ttsign.signers.request_signer import ChainSigner
from ttsign.signing import generate_ms_token
from ttsign.store.backends import Backends, open_backends, open_key_store
from ttsign.store.base import KeyStore, Limits, StoreUnavailable
from ttsign.upstream.chat import ChatClient
from ttsign.upstream.identity import ConnectBudget, IdentityPool, bootstrap_identity
from ttsign.upstream.rooms import RoomDirectory
from ttsign.upstream.socket import SOCKET_PATH, DirectSocket
from ttsign.upstream.socket_probe import SocketProbe
from ttsign.upstream.transport import CurlTransport, Transport, TransportOptions
from ttsign.upstream.webcast import IM_FETCH_PATH, WebcastClient

logger = logging.getLogger(__name__)


def access_policy(settings: Settings) -> AccessPolicy:
    return AccessPolicy(
        allow_anonymous=settings.allow_anonymous,
        anonymous_limits=Limits(settings.anonymous_per_minute, settings.anonymous_per_hour, settings.anonymous_per_day),
        per_ip_limits=Limits(settings.ip_per_minute, settings.ip_per_hour),
        default_key_limits=Limits(settings.key_per_minute, settings.key_per_hour, settings.key_per_day),
        anonymous_rooms_per_hour=settings.anonymous_rooms_per_hour,
        store_failure_mode=settings.redis_failure_mode,
        auth_failure_limits=Limits(settings.auth_failures_per_minute, settings.auth_failures_per_hour),
    )


def open_store(settings: Settings) -> KeyStore:
    """The key store alone: Redis when `redis_url` is set, else the SQLite file."""
    return open_key_store(
        store_path=settings.store_path,
        redis_url=settings.redis_url,
        prefix=settings.redis_key_prefix,
        timeout_s=settings.redis_timeout_s,
    )


def open_shared_state(settings: Settings, keys: KeyStore | None = None) -> Backends:
    """The key store and the state replicas share: Redis when `redis_url` is set, else the embedded default."""
    return open_backends(
        store_path=settings.store_path,
        redis_url=settings.redis_url,
        prefix=settings.redis_key_prefix,
        timeout_s=settings.redis_timeout_s,
        keys=keys,
    )


def jwt_loader(settings: Settings, store: KeyStore) -> Callable[[], Awaitable[JwtAuthority]]:
    async def load() -> JwtAuthority:
        if settings.jwt_secret:
            # A secret generated before one was configured (in Redis, or the file beside SQLite) is dead
            # weight that can still be read: drop it. Best effort: the configured secret works either way.
            with contextlib.suppress(StoreUnavailable, OSError):
                await store.forget_secret("jwt")
            return JwtAuthority(settings.jwt_secret.encode("utf-8"))
        return JwtAuthority((await store.secret("jwt", lambda: secrets.token_urlsafe(48))).encode("utf-8"))

    return load


def build_services(
    settings: Settings,
    transport: Transport | None = None,
    *,
    store: KeyStore | None = None,
    metrics: Metrics | None = None,
) -> Services:
    """Everything the routes need, from settings alone (plus an optional transport and store for tests)."""
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
    rng = BufferedSystemRandom()  # the edge owns randomness; signing never draws its own
    backends = open_shared_state(settings, store)
    pool = IdentityPool(
        partial(
            bootstrap_identity,
            transport,
            settings.www_base,
            rng=rng,
            pages=settings.bootstrap_pages,
            attempts=settings.bootstrap_attempts,
            retry_delay_s=settings.bootstrap_retry_delay_s,
        ),
        size=settings.identity_pool_size,
        max_age_s=settings.identity_max_age_s,
        shelf=backends.identities,
    )
    metrics = metrics or Metrics()
    # The configured signer environment holds for every in-process signature; sign_url and ttsign's own
    # TikTok requests go through the signer backends (native, vendor-script, remote) in their configured order.
    native = native_backend(settings)
    sign_in_process = native.sign_function()
    # ttsign's own TikTok requests read one table: the environment's, with the operator's explicit overrides.
    own_requests = native.environment.with_endpoint_signatures(settings.endpoint_overrides())
    signers = build_chain(
        settings,
        native,
        ms_token=lambda: generate_ms_token(rng),
        registry=metrics.registry,
        on_breaker=lambda scope, state: metrics.breaker_transitions.labels(scope, str(state)).inc(),
    )
    own_signers = signers.with_native(NativeBackend(own_requests))

    def signing_own(purpose: str) -> ChainSigner:
        return ChainSigner(own_signers, observe=metrics.signing_timer(purpose))

    sharing = BreakerSharing(backends.breakers) if backends.breakers is not None else None
    webcast = WebcastClient(
        transport,
        webcast_base=settings.webcast_base,
        contact_email=settings.contact_email,
        rng=rng,
        signer=signing_own("im_fetch"),
        signatures=own_requests.signatures_for(IM_FETCH_PATH),
    )
    probe = (
        SocketProbe(timeout_s=settings.attempt_timeout_s, proxy=settings.proxy)
        if settings.direct_socket_probe
        else None
    )
    socket = DirectSocket(
        settings.push_base,
        signer=signing_own("socket"),
        sign_query=settings.direct_socket_gnarly and "X-Gnarly" in own_requests.signatures_for(SOCKET_PATH),
        rng=rng,
    )
    # One budget for both uses of a caller's browser User-Agent (connect and sign_url).
    new_identities = NewIdentityBudget(
        per_caller_per_minute=settings.new_identities_per_caller_per_minute,
        per_minute=settings.new_identities_per_minute,
    )
    connect = ConnectService(
        pool,
        webcast,
        new_identities=new_identities,
        default_profile_name=settings.default_profile,
        honour_client_user_agent=settings.honour_client_user_agent,
        deadline_s=settings.upstream_total_timeout_s,
        rooms=RoomDirectory(transport, www_base=settings.www_base, webcast_base=settings.webcast_base),
        retry=retry_policy(settings),
        breakers=connect_breakers(settings, metrics, sharing),
        on_retry=count_retries(metrics),
        rng=rng,
        strategies=settings.connect_strategies,
        socket=socket,
        budget=ConnectBudget(settings.identity_socket_connects_per_hour, backends.limits_storage),
        probe=probe,
        strategy_breakers=strategy_breakers(settings, metrics),
        on_outcome=count_strategy_outcomes(metrics),
    )
    store = backends.keys
    keys = KeyService(store)
    limiter = RateLimiter(backends.limits_storage, batch=backends.limits_batch)
    rooms = RoomLookupService(
        pool,
        RoomDirectory(transport, www_base=settings.www_base),
        default_profile_name=settings.default_profile,
        deadline_s=settings.upstream_total_timeout_s,
        retry=retry_policy(settings),
        rng=rng,
    )
    admission = Admission(
        keys,
        limiter,
        policy=access_policy(settings),
        jwt=jwt_loader(settings, store),
        rooms=backends.rooms,
        connections=backends.connections,
        scope=CreatorScope(rooms.room_id_of),
    )
    sign = SignService(
        pool,
        new_identities=new_identities,
        policy=SigningPolicy(
            settings.sign_allowed_hosts,
            settings.sign_allowed_path_prefixes,
            upstream_base=settings.upstream,
        ),
        default_profile_name=settings.default_profile,
        honour_client_user_agent=settings.honour_client_user_agent,
        rng=rng,
        signer=timed(sign_in_process, metrics.signing_timer("sign_url")),
        identity_timeout_s=settings.attempt_timeout_s,  # then sign with a generated msToken
        signers=signers,
    )
    chat = ChatService(
        pool,
        ChatClient(
            transport,
            webcast_base=settings.webcast_base,
            signer=signing_own("room_chat"),
            now_ms=lambda: time.time_ns() // 1_000_000,
            rng=rng,
        ),
        default_profile_name=settings.default_profile,
        deadline_s=settings.upstream_total_timeout_s,
    )
    usage = UsageRecorder(backends.usage) if settings.usage_enabled else None
    return Services(
        settings=settings,
        transport=transport,
        pool=pool,
        connect=connect,
        store=store,
        keys=keys,
        limiter=limiter,
        admission=admission,
        sign=sign,
        rooms=rooms,
        chat=chat,
        usage=usage,
        usage_report=UsageReport(backends.usage),
        signers=signers,
        closers=(pool.settle, backends.close, signers.aclose, *((probe.aclose,) if probe is not None else ())),
        background=(
            *((sharing.running,) if sharing is not None else ()),
            *((usage.running,) if usage is not None else ()),
        ),
    )


def create_app(
    settings: Settings | None = None, *, transport: Transport | None = None, store: KeyStore | None = None
) -> FastAPI:
    """A ready ASGI app. `transport` replaces the curl_cffi backend and `store` the SQLite file (tests)."""
    settings = settings or Settings()
    metrics = Metrics()
    services = build_services(settings, transport, store=store, metrics=metrics)
    if not settings.contact_email:
        logger.warning("contact_email is not set: TikTok gets an empty contact_us= (set TTSIGN_CONTACT_EMAIL)")
    if settings.redis_url and not settings.jwt_secret:
        # Replicas can only share a generated secret through Redis, where whoever reads Redis reads it too.
        logger.warning("jwt_secret is not set: the x-jwt-key secret is kept in Redis (set TTSIGN_JWT_SECRET)")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ops.gauge_refresher(app), AsyncExitStack() as background:
            for run in services.background:
                await background.enter_async_context(run())
            yield
        await relay.close()  # consumers closed and TikTok sockets shut before the transport goes
        await services.transport.aclose()
        await services.store.close()
        for close in services.closers:
            await close()

    # redirect_slashes=False: the clients do not follow redirects, so /x and /x/ are both served as-is.
    app = Application(
        title="ttsign",
        summary="Self-hosted sign server for TikTok LIVE clients (an Euler Stream drop-in).",
        version=__version__,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # docs.py serves /docs and /openapi.json, with Swagger UI's assets packaged (no CDN)
        redoc_url=None,
        openapi_url=None,
        # ttsign's own metrics are Prometheus; FastAPI's OpenTelemetry check costs every request ~4 µs.
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    app.state.metrics = metrics
    relay = build_relay(settings, services.connect, metrics)
    app.state.relay = relay
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(ops.router)
    on_main_port = settings.admin_port is None  # else /metrics and /docs are on the admin listener alone
    if settings.metrics_enabled and on_main_port:
        app.include_router(ops.metrics_router)
    app.include_router(connect_dialect.router)
    app.include_router(sign_url_dialect.serving)
    app.include_router(sign_url_dialect.router)
    app.include_router(signing_encrypt_dialect.serving)  # plain route first, as sign_url's
    app.include_router(signing_encrypt_dialect.router)
    app.include_router(rooms_dialect.router)
    app.include_router(chat_dialect.router)
    app.include_router(accounts.router)
    if settings.relay_enabled:
        app.include_router(relay_router)
    openapi.install(app)
    if on_main_port:  # else the console is on the admin listener alone, with /metrics and /docs
        admin.install(app, settings, services=services, metrics=metrics, main_state=app.state)
        if settings.admin_secret is not None:  # behind the console's login
            app.include_router(selftest_route.router)
    if settings.docs_enabled and on_main_port:
        docs.install(app, app.openapi, app.title)
    app.add_middleware(HotRoutes, routes=[*connect_dialect.router.routes, *sign_url_dialect.serving.routes])
    app.state.in_flight = InFlightSlots(settings.max_in_flight)  # /healthz reports on them
    app.add_middleware(InFlightLimit, slots=app.state.in_flight)
    # Outside the in-flight queue: a body is read (its time limit is the connection's) before the request takes a slot.
    app.add_middleware(
        RequestLimits,
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_request_body_bytes,
    )
    # Outermost: counts even the 413s.
    app.add_middleware(Observe, metrics=metrics, access_log=settings.access_log, usage=services.usage)
    serve_relay_strategy(app, services, relay)  # last: its middleware must see every request, hot ones too
    return app
