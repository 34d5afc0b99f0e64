"""Runtime settings: environment variables `TTSIGN_*`, an optional TOML file, then defaults.

Precedence (highest first): explicit keyword arguments, environment variables, the TOML file named by
`TTSIGN_CONFIG_FILE`, the defaults below. Every setting works out of the box; nothing is required.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ttsign.service.policy import DEFAULT_HOSTS, DEFAULT_PATH_PREFIXES
from ttsign.signers.environments import active_environment
from ttsign.signing import DEFAULT_PROFILES

CONFIG_FILE_ENV = "TTSIGN_CONFIG_FILE"


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


Endpoint = Literal["im_fetch", "socket", "room_chat"]
Signature = Literal["msToken", "X-Bogus", "X-Gnarly"]
# Where each endpoint name of `signatures_by_endpoint` sits in the signer environment's table (path prefixes).
ENDPOINT_PATHS: dict[str, str] = {
    "im_fetch": "/webcast/im/fetch/",
    "socket": "/webcast/im/ws_proxy/",
    "room_chat": "/webcast/room/chat/",
}


def _page_signatures() -> dict[Endpoint, tuple[Signature, ...]]:
    """What the live page attaches per endpoint: nothing on im/fetch (field-notes-2026-12 §1.1)."""
    return {"im_fetch": ()}


class ConfigFileError(ValueError):
    """The file named by TTSIGN_CONFIG_FILE is missing or unreadable."""


class Settings(BaseSettings):
    """All ttsign settings. Field docs double as the reference for the TOML file and environment."""

    model_config = SettingsConfigDict(env_prefix="TTSIGN_", extra="forbid", frozen=True)

    # --- listening -------------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address the sign server listens on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port the sign server listens on (0 = any free port).")

    # --- where TikTok is -------------------------------------------------------------------------------
    tiktok_www_url: str = Field(
        default="https://www.tiktok.com", description="Base URL of www.tiktok.com (cookie issuing, room lookup)."
    )
    tiktok_webcast_url: str = Field(
        default="https://webcast.tiktok.com", description="Base URL of webcast.tiktok.com (im/fetch)."
    )
    upstream: str | None = Field(
        default=None, description="One base URL standing in for both TikTok hosts (e.g. the local emulator)."
    )
    contact_email: str = Field(
        default="",
        description="Operator e-mail sent to TikTok as `contact_us=` next to `notice=CUSTOM_SIGN_SERVER`.",
    )

    # --- upstream transport ----------------------------------------------------------------------------
    upstream_connect_timeout_s: float = Field(
        default=1.0, gt=0, description="Seconds to establish a connection to TikTok."
    )
    upstream_total_timeout_s: float = Field(
        default=2.5,
        gt=0,
        description="Seconds for a whole TikTok request; below the 3 s timeout of the Java client.",
    )
    proxy: str | None = Field(default=None, description="Proxy URL for all TikTok traffic, e.g. http://user:pw@h:p.")
    upstream_max_connections: int = Field(
        default=64, ge=1, description="Concurrent connections to TikTok (curl handles in the session)."
    )
    max_upstream_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest TikTok response body accepted; larger is refused."
    )

    # --- upstream resilience ---------------------------------------------------------------------------
    upstream_max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Tries per TikTok request for transient faults (timeouts, connection errors, 5xx); "
        "refusals are never retried. All tries share upstream_total_timeout_s.",
    )
    upstream_attempt_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Seconds one try may take before it is abandoned and retried; unset = half of "
        "upstream_total_timeout_s, so a hung connection gets a second try inside the budget.",
    )
    upstream_retry_base_delay_s: float = Field(
        default=0.05, ge=0, description="Backoff before the first retry (doubling, full jitter)."
    )
    upstream_retry_max_delay_s: float = Field(default=0.4, ge=0, description="Cap on the backoff between retries.")
    breaker_failure_threshold: int = Field(
        default=5,
        ge=1,
        description="Consecutive failed connects of one room (or one identity) that open its circuit breaker.",
    )
    breaker_cooldown_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds an open breaker answers 503 circuit_open at once before letting one probe through.",
    )

    # --- identities ------------------------------------------------------------------------------------
    default_profile: str | None = Field(
        default=None, description="Browser profile name used when the caller's User-Agent cannot be honoured."
    )
    honour_client_user_agent: bool = Field(
        default=True,
        description="Build the identity from the client's `user_agent` when it maps to a consistent profile.",
    )
    identity_pool_size: int = Field(default=16, ge=1, description="Most identities (ttwid + msToken) kept warm.")
    identity_max_age_s: float = Field(
        default=1800.0, gt=0, description="Seconds an identity is reused before a fresh one is bootstrapped."
    )
    identity_socket_connects_per_hour: int = Field(
        default=12,
        ge=1,
        description="Socket connects (direct strategy) one identity may hand out per hour; then it is rotated. "
        "TikTok flags a session at about 15 per hour.",
    )
    bootstrap_pages: tuple[str, ...] = Field(
        default=("/@tiktok",),
        min_length=1,
        description="www.tiktok.com pages an identity gets its ttwid from, tried in order (profile pages still "
        "mint one since late 2026; the home page stopped).",
    )
    bootstrap_attempts: int = Field(
        default=8, ge=1, le=20, description="Tries per bootstrap page: TikTok mints ttwid on only some requests."
    )
    bootstrap_retry_delay_s: float = Field(
        default=0.05, ge=0, le=2, description="Pause between bootstrap tries (all tries share the connect deadline)."
    )

    # --- signer environments ---------------------------------------------------------------------------
    signer_env_file: Path | None = Field(
        default=None,
        description="TOML file of extra signer environments ([environments.NAME] tables; `ttsign env check FILE` "
        "validates one), beside the built-ins.",
    )
    signer_env: str = Field(
        default="vendor-5.1.3",
        description="Signer environment to sign with: a built-in (`ttsign env list`) or one from signer_env_file.",
    )
    signer_backends: tuple[Literal["native", "vendor-script", "remote"], ...] = Field(
        default=("native",),
        min_length=1,
        description="Signer backends for sign_url and ttsign's own TikTok requests, tried in order: a backend "
        "that fails falls through to the next. `native` signs in-process, `vendor-script` runs vendor_script_path "
        "in Node, `remote` asks remote_signer_url.",
    )
    vendor_script_path: Path | None = Field(
        default=None,
        description="TikTok's webmssdk.js for the vendor-script backend (your own copy; ttsign ships none).",
    )
    vendor_script_workers: int = Field(
        default=2, ge=1, le=32, description="Node worker processes of the vendor-script backend."
    )
    vendor_script_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="A vendor-script worker silent this long is killed and restarted."
    )
    remote_signer_url: str | None = Field(
        default=None,
        description="The remote backend's sign_url route, e.g. https://host/webcast/sign_url (Euler or ttsign).",
    )
    remote_signer_api_key: str | None = Field(
        default=None,
        repr=False,  # a secret: sent only as X-Api-Key
        description="API key for the remote signer, sent as X-Api-Key (never logged).",
    )
    ready_requires_signer: bool = Field(
        default=False,
        description="GET /readyz also fails (503) unless some signer backend is healthy (breaker closed, "
        "workers start).",
    )

    # --- connect strategies ----------------------------------------------------------------------------
    connect_strategies: tuple[Literal["direct", "fetch", "relay"], ...] = Field(
        default=("direct", "fetch"),
        min_length=1,
        description="How a connect is served, tried in order: `direct` synthesizes the socket address with no "
        "TikTok round trip, `fetch` sends im/fetch, `relay` points the client at ttsign's own push socket (the "
        "event relay holds the room's one TikTok socket, opened with the other strategies). A refusal the next "
        "strategy could avoid falls through to it.",
    )
    legacy_fetch_through_ttsign: bool = Field(
        default=True,
        description="While `direct` is the first connect strategy, the legacy `GET /webcast/sign_url` answers an "
        "im/fetch URL (tiktok-live-connector 1.x) with a URL of ttsign's own (`/webcast/legacy/fetch/`, with a "
        "short-lived one-use ticket, never the key) that serves the connect strategies' fetch result, because "
        "TikTok answers a non-browser's im/fetch with an empty 200. Off: the signed im/fetch URL, as before.",
    )
    signatures_by_endpoint: dict[Endpoint, tuple[Signature, ...]] = Field(
        default_factory=_page_signatures,
        description="Explicit overrides of the signer environment's per-endpoint signature table for the requests "
        "ttsign sends itself (`im_fetch`, `socket`, `room_chat`); an endpoint not named keeps the environment's "
        "entry (sign_url always signs by the environment's table). im/fetch default: none, as the live page sends "
        'it (X-Gnarly there draws a 403). E.g. {"im_fetch": ["msToken", "X-Bogus", "X-Gnarly"]} for the 2026-08 rules.',
    )
    direct_socket_gnarly: bool = Field(
        default=True, description="Sign the direct socket query with X-Gnarly (TikTok probably does not check it)."
    )
    direct_socket_probe: bool = Field(
        default=False,
        description="Open the push socket as the identity before answering a direct connect (a round trip and one "
        "more connect of its budget): an identity TikTok refuses there (DEVICE_BLOCKED) is retired for every "
        "replica and a fresh one tried.",
    )
    tiktok_push_url: str = Field(
        default="wss://webcast-ws.tiktok.com",
        description="Base URL of TikTok's push socket host (the direct strategy's push_server); the `upstream` "
        "override wins, as ws:// or wss://.",
    )

    # --- client-facing API -----------------------------------------------------------------------------
    max_request_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body the API accepts from clients."
    )
    max_in_flight: int = Field(
        default=32,
        ge=1,
        description="Requests one process works on at once; more wait, unstarted, for a free slot (backpressure).",
    )
    stalled_after_s: float = Field(
        default=10.0,
        gt=0,
        description="GET /healthz answers 503 `stalled` when requests wait for an in-flight slot and none has "
        "finished for this long.",
    )
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="Largest request head (request line and headers) accepted; larger is refused with 431.",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a request's head, from its connection or the request's first "
        "byte; then the connection is closed (with 408 once a request has begun).",
    )
    body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a whole request body, from the end of its headers; then 408 "
        "and the connection is closed. Bodies are read before the request waits for an in-flight slot, so a slow "
        "one holds none.",
    )
    keep_alive_timeout_s: int = Field(
        default=75,
        ge=1,
        description="Seconds an idle keep-alive connection stays open. Keep it above a reverse proxy's idle "
        "upstream timeout (nginx: 60 s) so the proxy closes first and never reuses a connection being closed.",
    )
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed (comma-separated in the environment, e.g. `127.0.0.1`). Empty: the connecting peer is "
        "the client and forwarded headers are ignored.",
    )
    session_id_policy: Literal["ignore", "refuse"] = Field(
        default="ignore",
        description="What connect and sign_url do when a client sends `session_id`: ignore it, or refuse with 400. "
        "Sessions are forwarded only by the chat routes (see chat_enabled); a session id is never logged.",
    )
    log_level: str = Field(default="INFO", description="stdlib logging level for ttsign's own loggers.")
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="Log lines on stderr: one JSON object per line (with request_id), or plain text.",
    )
    access_log: bool = Field(
        default=True,
        description="One INFO line per request (route, dialect, status, reason, ms, key id, client address, "
        "strategy, request id; never a key, token or query string).",
    )
    docs_enabled: bool = Field(
        default=True,
        description="Serve the API documentation: /docs (Swagger UI, assets served locally) and /openapi.json.",
    )
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    opentelemetry: bool = Field(
        default=False,
        description="Let FastAPI report traces, metrics and logs to the OpenTelemetry providers configured in "
        "the process (e.g. by opentelemetry-instrument). Off: its per-request check is skipped (~4 µs).",
    )
    admin_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Second listener, on the same host, that alone serves /metrics, /docs and /openapi.json "
        "(0 = any free port, announced as admin_url in the ready line). Unset: they are on the main port.",
    )
    ready_requires_upstream: bool = Field(
        default=False,
        description="GET /readyz also fails (503) while the default identity's circuit breaker is open.",
    )

    # --- store -----------------------------------------------------------------------------------------
    store_path: Path = Field(
        default_factory=lambda: _data_home() / "ttsign" / "ttsign.sqlite3",
        description="SQLite file of the embedded store (API keys, hashed). Default under $XDG_DATA_HOME.",
    )

    # --- shared state for many replicas ----------------------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        repr=False,  # may carry a password
        description="Redis URL (redis://host:port/db) shared by every replica: keys, limit windows, room caps, "
        "token counts, upstream identities (with their rotated msTokens) and circuit breakers. Unset: the "
        "embedded store, in-process limits and breakers.",
    )
    redis_key_prefix: str = Field(
        default="ttsign:",
        min_length=1,
        description="Prefix of every Redis key ttsign writes (several deployments can share one Redis).",
    )
    redis_timeout_s: float = Field(
        default=1.5,
        gt=0,
        le=10,
        description="Seconds a Redis connect or command may take before it counts as down. Measured on a busy "
        "event loop, so keep it well above Redis's own latency: too short turns overload into a false outage.",
    )
    redis_failure_mode: Literal["closed", "open"] = Field(
        default="closed",
        description="When Redis is unreachable: `closed` answers 503 `store_unavailable` (limits cannot be "
        "enforced); `open` serves without the limits it cannot count and logs a warning. Keys this process "
        "has not seen cannot be checked either way (503).",
    )

    # --- access and rate limits ------------------------------------------------------------------------
    allow_anonymous: bool = Field(default=True, description="Serve callers without an API key (own limits).")
    anonymous_per_minute: int | None = Field(default=20, ge=1, description="Anonymous requests per minute per IP.")
    anonymous_per_hour: int | None = Field(default=300, ge=1, description="Anonymous requests per hour per IP.")
    anonymous_per_day: int | None = Field(default=2000, ge=1, description="Anonymous requests per day per IP.")
    anonymous_rooms_per_hour: int | None = Field(
        default=10, ge=1, description="Distinct rooms one anonymous IP may connect to per hour."
    )
    key_per_minute: int | None = Field(default=60, ge=1, description="Default per-key limit per minute.")
    key_per_hour: int | None = Field(default=2000, ge=1, description="Default per-key limit per hour.")
    key_per_day: int | None = Field(default=20000, ge=1, description="Default per-key limit per day.")
    ip_per_minute: int | None = Field(default=600, ge=1, description="Requests per minute from one IP, any key.")
    ip_per_hour: int | None = Field(default=20000, ge=1, description="Requests per hour from one IP, any key.")
    new_identities_per_caller_per_minute: int = Field(
        default=2,
        ge=1,
        description="New browser User-Agents one caller may start a TikTok identity for per minute; past it the "
        "request is served as the default profile (a new identity costs a bootstrap and may evict another).",
    )
    new_identities_per_minute: int = Field(
        default=20, ge=1, description="New TikTok identities all callers together may start per minute."
    )
    usage_enabled: bool = Field(
        default=True,
        description="Count each caller's usage (requests, refusals, rooms, signatures) per minute and hour, "
        "beside the key store (SQLite) or in Redis; read it with `ttsign usage`.",
    )
    auth_failures_per_minute: int | None = Field(
        default=10, ge=1, description="Wrong keys or bad tokens one IP may send per minute before it is refused (429)."
    )
    auth_failures_per_hour: int | None = Field(
        default=50, ge=1, description="Wrong keys or bad tokens one IP may send per hour before it is refused (429)."
    )
    jwt_secret: str | None = Field(
        default=None,
        repr=False,
        min_length=32,
        description="HMAC secret for x-jwt-key tokens (32+ characters). Unset: one is generated once and kept in "
        "a 0600 file beside the SQLite store, or in Redis with redis_url (set it for Redis: a warning says so). "
        "Once set, a generated copy is deleted.",
    )
    admin_secret: str | None = Field(
        default=None,
        repr=False,
        min_length=32,
        description="Secret an operator logs in to the web console at /admin with (32+ characters; never logged). "
        "Unset: /admin and its API are not served (404). With admin_port set, /admin is on the admin listener only.",
    )
    admin_session_ttl_s: float = Field(
        default=1800.0,
        gt=0,
        le=86400,
        description="Seconds an /admin login lasts (a signed, HttpOnly, SameSite=Strict session cookie).",
    )

    # --- signing policy --------------------------------------------------------------------------------
    sign_allowed_hosts: tuple[str, ...] = Field(
        default=DEFAULT_HOSTS, description="Hosts sign_url signs for ('*.example.com' for subdomains)."
    )
    sign_allowed_path_prefixes: tuple[str, ...] = Field(
        default=DEFAULT_PATH_PREFIXES, description="URL path prefixes sign_url signs."
    )
    chat_enabled: bool = Field(
        default=False,
        description="Send chat messages for clients (the chat routes); a key must also allow chat "
        "(`ttsign keys create --chat`). The viewer's session is forwarded for that one request only.",
    )

    # --- event relay -----------------------------------------------------------------------------------
    relay_enabled: bool = Field(
        default=True,
        description="Serve the event relay: the Euler-compatible WebSocket (/ws and /), server-sent events "
        "(/events) and the chat overlay page (/overlay/chat). One TikTok socket per room, shared.",
    )
    relay_queue_size: int = Field(
        default=256,
        ge=1,
        description="Frames of events one relay consumer may have waiting; a consumer that falls further behind "
        "is closed with 4008 and the others carry on.",
    )
    relay_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="Seconds a room's TikTok socket stays open after its last consumer leaves (a reload keeps it).",
    )
    relay_reconnect_attempts: int = Field(
        default=3,
        ge=0,
        description="Times a dropped TikTok socket is reopened (exponential backoff) before the room's consumers "
        "are closed with 4500.",
    )
    relay_reconnect_backoff_s: float = Field(
        default=1.0, gt=0, description="Backoff before the first reopen of a dropped TikTok socket (then doubling)."
    )
    relay_max_sockets_per_key: int = Field(
        default=10,
        ge=1,
        description="Relay consumers (WebSockets and event streams) one API key, or one anonymous address, may "
        "hold open at once; more are closed with 4429. A token's maxWebSockets caps it further.",
    )
    relay_max_lifetime_s: float = Field(
        default=8 * 3600.0,
        gt=0,
        description="Seconds a relay consumer may stay connected before it is closed with 4555 (Euler's 8 hours).",
    )
    relay_lease_s: float = Field(
        default=10.0,
        ge=0.5,
        le=300,
        description="With Redis: seconds a replica's claim on a room's TikTok socket lasts unrenewed. Other "
        "replicas forward that replica's events; when it dies another takes the room over within this time.",
    )
    relay_deflate: bool = Field(
        default=False,
        description="Compress relay WebSocket messages (permessage-deflate) for consumers that offer it: JSON "
        "events shrink several times, but each consumer's copy is compressed on its own (about 1.6 µs of CPU per "
        "event and 40 KB of memory per consumer more; at 1,000 consumers p99 66 ms instead of 55).",
    )

    @field_validator("tiktok_www_url", "tiktok_webcast_url", "upstream")
    @classmethod
    def _strip_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base URL must start with http:// or https://, got {value!r}")
        return value

    @field_validator("tiktok_push_url")
    @classmethod
    def _socket_scheme(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("ws://", "wss://")):
            raise ValueError(f"tiktok_push_url must start with ws:// or wss://, got {value!r}")
        return value

    @field_validator("connect_strategies")
    @classmethod
    def _distinct_strategies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("connect_strategies names a strategy twice")
        return value

    @field_validator("bootstrap_pages")
    @classmethod
    def _page_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for page in value:
            if not page.startswith("/") or "?" in page or "#" in page:
                raise ValueError(f"bootstrap page {page!r} must be a path starting with '/'")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        """A comma-separated string (the environment's form) or a JSON array, as well as a TOML list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or CIDR range") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise ValueError("log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("default_profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        if value is not None and value not in DEFAULT_PROFILES:
            raise ValueError(f"unknown profile {value!r}; known: {', '.join(DEFAULT_PROFILES)}")
        return value

    @model_validator(mode="after")
    def _check_signer_backends(self) -> Settings:
        if "vendor-script" in self.signer_backends and self.vendor_script_path is None:
            raise ValueError("signer_backends names vendor-script: set vendor_script_path to your webmssdk.js")
        if "remote" in self.signer_backends and not self.remote_signer_url:
            raise ValueError("signer_backends names remote: set remote_signer_url to its sign_url route")
        # The environment file and name are checked now, so a bad one stops the server at start, in one line.
        try:
            active_environment(self.signer_env_file, self.signer_env)
        except LookupError as exc:
            raise ValueError(str(exc).strip("'\"")) from None
        return self

    @model_validator(mode="after")
    def _check_timeouts(self) -> Settings:
        if self.upstream_connect_timeout_s > self.upstream_total_timeout_s:
            raise ValueError("upstream_connect_timeout_s must not exceed upstream_total_timeout_s")
        if (
            self.upstream_attempt_timeout_s is not None
            and self.upstream_attempt_timeout_s > self.upstream_total_timeout_s
        ):
            raise ValueError("upstream_attempt_timeout_s must not exceed upstream_total_timeout_s")
        return self

    @property
    def attempt_timeout_s(self) -> float:
        """Effective per-try limit (see upstream_attempt_timeout_s)."""
        return self.upstream_attempt_timeout_s or self.upstream_total_timeout_s / 2

    @property
    def www_base(self) -> str:
        """Effective www.tiktok.com base URL (the `upstream` override wins)."""
        return self.upstream or self.tiktok_www_url

    @property
    def webcast_base(self) -> str:
        """Effective webcast.tiktok.com base URL (the `upstream` override wins)."""
        return self.upstream or self.tiktok_webcast_url

    def endpoint_overrides(self) -> dict[str, frozenset[str]]:
        """`signatures_by_endpoint` as path prefix -> signatures, for SignerEnvironment.with_endpoint_signatures."""
        return {ENDPOINT_PATHS[name]: frozenset(wanted) for name, wanted in self.signatures_by_endpoint.items()}

    @property
    def push_base(self) -> str:
        """Effective push socket base URL: `upstream` (as ws:// or wss://) wins over tiktok_push_url."""
        if self.upstream:
            return "ws" + self.upstream.removeprefix("http")
        return self.tiktok_push_url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV, "").strip()
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ConfigFileError(f"{CONFIG_FILE_ENV}={config_file}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)
