"""The push socket a browser opens itself (`ws_direct=1`), and the fetch result that points a client at it.

Since 2026-09 the live page builds its socket URL without im/fetch (field-notes-2026-12 §1.2), so ttsign can
answer a client's connect with no TikTok round trip: the socket query in the order the page's IM SDK writes
it, signed with X-Gnarly (TikTok's verifier is probably not strict; it is cheap insurance and a setting),
and a `ProtoMessageFetchResult` synthesized around it (§1.3): cursor "0" (the Node client refuses an empty
one), internal_ext "", the query pairs as route params (percent-decoded: the clients re-encode them),
heartbeat 10 s, need_ack, and the socket URL without '?' as push_server.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote
from weakref import WeakKeyDictionary

from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult
from ttsign.signing.signer import SignJob
from ttsign.upstream.identity.value import Identity
from ttsign.upstream.refusals import Refusal
from ttsign.upstream.signer import NOTHING, InProcessSigner, RequestSigner

SOCKET_PATH = "/webcast/im/ws_proxy/ws_reuse_supplement/"
HEARTBEAT_MS = 10_000
# How long one signed address is handed out again for the same identity and room: signing is most of a direct
# connect's CPU, and a signed socket URI is good for about 30 s (nglmercer `docs/05-spec-websocket-client.md`).
ADDRESS_TTL_S = 10.0
_ROOMS_PER_IDENTITY = 1024


def socket_params(identity: Identity, room_id: str) -> list[tuple[str, str]]:
    """The page's socket query, in the IM SDK's order, with this identity's browser values (nglmercer's
    `DirectSocketParams`). `version_code` appears twice on purpose: the page sends both."""
    profile = identity.profile
    params = [
        ("version_code", "180800"),
        ("device_platform", "web"),
        ("cookie_enabled", "true"),
        ("screen_width", str(profile.screen_width)),
        ("screen_height", str(profile.screen_height)),
        ("browser_language", profile.language),
        ("browser_platform", profile.browser_platform),
        ("browser_name", profile.browser_name),
        ("browser_version", profile.browser_version),
        ("browser_online", "true"),
        ("tz_name", profile.tz_name),
        ("app_name", "tiktok_web"),
        ("sup_ws_ds_opt", "1"),
        ("update_version_code", "2.0.0"),
        ("compress", "gzip"),
        ("webcast_language", profile.language.split("-")[0]),
        ("aid", "1988"),
        ("live_id", "12"),
        ("version_code", "270000"),
        ("app_language", profile.language.split("-")[0]),
        ("ws_direct", "1"),
        ("client_enter", "1"),
        ("room_id", room_id),
        ("identity", "audience"),
        ("last_rtt", "-1"),
        ("heartbeat_duration", str(HEARTBEAT_MS)),
        ("resp_content_type", "protobuf"),
    ]
    # The page says did_rule=3 when it has no device id of its own, 0 with one.
    params += [("did_rule", "0"), ("device_id", identity.device_id)] if identity.device_id else [("did_rule", "3")]
    return params


def encode_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in params)


@dataclass(frozen=True)
class SocketAddress:
    """Where a client's socket goes: the URL without '?', and the query pairs (decoded) it must carry; with
    the synthesized first fetch result that says so, built once."""

    push_server: str
    params: tuple[tuple[str, str], ...]
    created_ms: int = 0
    payload: bytes = field(default=b"", repr=False, compare=False)
    backend: str = ""  # the signer backend that signed its X-Gnarly; "" when unsigned

    @classmethod
    def of(
        cls, push_server: str, params: tuple[tuple[str, str], ...], *, now_ms: int, backend: str = ""
    ) -> SocketAddress:
        bare = cls(push_server, params, now_ms)
        return cls(push_server, params, now_ms, bare.fetch_result(now_ms=now_ms), backend)

    def fetch_result(self, *, now_ms: int) -> bytes:
        """The synthesized first fetch result: no messages, just the way to the socket."""
        result = ProtoMessageFetchResult(
            cursor="0",
            internal_ext="",
            heartbeat_duration=HEARTBEAT_MS,
            need_ack=True,
            push_server=self.push_server,
            is_first=True,
            now=now_ms,
        )
        for key, value in self.params:
            result.route_params[key] = value  # a repeated key (version_code) ends last-wins, as clients keep it
        return result.SerializeToString()


class DirectSocket:
    """Builds an identity's signed socket address for a room (pure but for the clock and randomness)."""

    def __init__(
        self,
        push_base: str,
        *,
        signer: RequestSigner | None = None,
        sign_query: bool = True,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        rng: random.Random | None = None,
        reuse_s: float = ADDRESS_TTL_S,
    ) -> None:
        self._push_server = push_base.rstrip("/") + SOCKET_PATH
        self._signer: RequestSigner = signer or InProcessSigner()
        self._sign_query = sign_query
        self._now_ms = now_ms
        self._rng = rng or random.SystemRandom()
        self._reuse_ms = int(reuse_s * 1000)
        self._recent: WeakKeyDictionary[Identity, dict[str, SocketAddress]] = WeakKeyDictionary()

    @property
    def push_server(self) -> str:
        return self._push_server

    @property
    def signer(self) -> RequestSigner:
        """What signs the socket query: the backends it tries, and where a refused one is blamed."""
        return self._signer

    async def address(
        self, identity: Identity, room_id: str, *, besides: frozenset[str] = NOTHING
    ) -> SocketAddress | Refusal:
        """The identity's signed address for the room: the one signed in the last `reuse_s`, else a new one
        (a refusal when no signer backend can sign). `besides`: backends whose signature TikTok refused for
        it; then the address is signed afresh by another, and that one is handed out from now on."""
        now = self._now_ms()
        recent = self._recent.setdefault(identity, {})
        cached = recent.get(room_id)
        if not besides and cached is not None and now - cached.created_ms < self._reuse_ms:
            return cached
        params = socket_params(identity, room_id)
        backend = ""
        if self._sign_query:
            signed = await self._gnarly(identity, encode_query(params), besides)
            if isinstance(signed, Refusal):
                return signed
            gnarly, backend = signed
            params.append(("X-Gnarly", gnarly))
        address = SocketAddress.of(self._push_server, tuple(params), now_ms=now, backend=backend)
        if len(recent) >= _ROOMS_PER_IDENTITY:
            recent.clear()  # bounded: an identity asked for many rooms signs again, nothing else changes
        recent[room_id] = address
        return address

    async def _gnarly(self, identity: Identity, query: str, besides: frozenset[str]) -> tuple[str, str] | Refusal:
        # The page signs the socket query with its WS signer; the XHR signer's X-Gnarly over the same query
        # (and the empty msToken it appends) is the closest public function. The socket's verifier is not
        # byte-exact (nglmercer `ttl-sign-headless`), so this holds where the check exists at all.
        url = f"{self._push_server}?{query}"
        tried = besides
        while True:
            job = SignJob("GET", url, "", identity.profile, self._now_ms(), session=identity.sdk_session)
            signed = await self._signer.sign(job, self._rng, besides=tried)
            if isinstance(signed, Refusal):
                return signed
            gnarly = signed.request.tokens.get("X-Gnarly")
            if gnarly:
                identity.sdk_session = signed.request.session
                return gnarly, signed.backend
            tried |= {signed.backend}  # a backend whose answer lacks X-Gnarly (e.g. a remote 1.0.0.368 one)
