"""ttsign.upstream: everything that talks to TikTok (or the emulator standing in for it).

Transport (curl_cffi, browser impersonation, explicit cookies), identities, the signed im/fetch and the
typed refusal taxonomy. Knows nothing of HTTP servers, keys or client dialects.
"""

from ttsign.upstream.identity import Identity, IdentityPool, bootstrap_identity
from ttsign.upstream.refusals import FetchPayload, Refusal, RefusalCode, classify_fetch
from ttsign.upstream.transport import (
    CurlTransport,
    Transport,
    TransportError,
    TransportOptions,
    TransportTimeout,
    UpstreamRequest,
    UpstreamResponse,
)
from ttsign.upstream.webcast import Fetched, RoomRequest, WebcastClient

__all__ = [
    "CurlTransport",
    "FetchPayload",
    "Fetched",
    "Identity",
    "IdentityPool",
    "Refusal",
    "RefusalCode",
    "RoomRequest",
    "Transport",
    "TransportError",
    "TransportOptions",
    "TransportTimeout",
    "UpstreamRequest",
    "UpstreamResponse",
    "WebcastClient",
    "bootstrap_identity",
    "classify_fetch",
]
