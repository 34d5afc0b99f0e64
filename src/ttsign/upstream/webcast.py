"""The signed `GET /webcast/im/fetch/` that opens a room: parameters, headers, signing, classification."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote
from weakref import WeakKeyDictionary

from ttsign.signing.signer import SignJob
from ttsign.signing.url import append_param, split, strip_params
from ttsign.upstream.browser_headers import fetch_headers
from ttsign.upstream.identity.value import Identity
from ttsign.upstream.refusals import (
    FetchPayload,
    Refusal,
    classify_fetch,
    classify_transport_failure,
)
from ttsign.upstream.signer import NOTHING, InProcessSigner, RequestSigner, until_a_signature_is_accepted
from ttsign.upstream.transport import Transport, TransportError, TransportTimeout, UpstreamRequest

IM_FETCH_PATH = "/webcast/im/fetch/"
_PER_REQUEST = frozenset({"cursor", "internal_ext", "room_id"})
TIKTOK_ORIGIN = "https://www.tiktok.com"
SIGNATURES = ("msToken", "X-Bogus", "X-Gnarly")  # what a signer can attach, in the order the SDK appends them
ALL_SIGNATURES = frozenset(SIGNATURES)
# What the player itself sends on its first im/fetch instead of an empty value (nglmercer `params.rs`).
_PLAYER_FIRST = {"cursor": "0", "internal_ext": "0"}


@dataclass(frozen=True)
class RoomRequest:
    """What to fetch: the room and where the client stands in it (empty on first connect)."""

    room_id: str
    cursor: str = ""
    internal_ext: str = ""


@dataclass(frozen=True)
class Prepared:
    """An im/fetch as it will go on the wire, and which signer backend signed it ("" when unsigned)."""

    request: UpstreamRequest
    backend: str = ""


@dataclass(frozen=True)
class Fetched:
    """A successful im/fetch: TikTok's bytes and the `ttwid` the client must present on the WebSocket."""

    payload: FetchPayload
    ttwid: str


def im_fetch_params(identity: Identity, room: RoomRequest, *, contact_email: str) -> list[tuple[str, str]]:
    """The im/fetch query of the Euler custom-sign-server guide, with this identity's browser values, as the
    live player sends it: `last_rtt=-1`, and no empty values (the page deletes them before sending)."""
    profile = identity.profile
    params: dict[str, str] = {
        "aid": "1988",
        "app_language": profile.language.split("-")[0],
        "app_name": "tiktok_web",
        "browser_language": profile.language,
        "browser_name": profile.browser_name,
        "browser_online": "true",
        "browser_platform": profile.browser_platform,
        "browser_version": profile.browser_version,
        "cookie_enabled": "true",
        "cursor": room.cursor or _PLAYER_FIRST["cursor"],
        "debug": "false",
        "device_platform": "web",
        "did_rule": "3",
        "fetch_rule": "1",
        "history_comment_count": "6",
        "identity": "audience",
        "internal_ext": room.internal_ext or _PLAYER_FIRST["internal_ext"],
        "last_rtt": "-1",
        "live_id": "12",
        "resp_content_type": "protobuf",
        "screen_height": str(profile.screen_height),
        "screen_width": str(profile.screen_width),
        "sup_ws_ds_opt": "1",
        "tz_name": profile.tz_name,
        "version_code": "270000",
    }
    # The profile is the authority on everything browser-shaped: its values win over the defaults above.
    params.update(profile.browser_query())
    params.update(
        {
            "notice": "CUSTOM_SIGN_SERVER",
            "device_id": identity.device_id,
            "room_id": room.room_id,
            "contact_us": contact_email,
        }
    )
    # The per-request values are filled in later (QueryTemplate.render), so they stay even when empty here.
    return [(key, value) for key, value in params.items() if value or key in _PER_REQUEST]


def im_fetch_headers(signature_headers: Mapping[str, str], identity: Identity) -> dict[str, str]:
    headers = {
        "Accept": "*/*",
        "Accept-Language": identity.profile.accept_language,
        "Referer": f"{TIKTOK_ORIGIN}/",
        "Origin": TIKTOK_ORIGIN,
        **signature_headers,
        **fetch_headers(identity.profile, "same-site"),  # the page's script calling webcast.tiktok.com
    }
    headers["User-Agent"] = identity.profile.user_agent
    cookie = identity.cookies.header()
    if cookie:
        headers["Cookie"] = cookie
    return headers


def _encode(value: str) -> str:
    return quote(value, safe="")


class QueryTemplate:
    """An identity's im/fetch query, encoded once; only the room's own values are encoded per request.

    Kept as literal runs with the per-request parameters' slots between them, so rendering joins a handful
    of strings rather than re-joining every pair.
    """

    def __init__(self, params: list[tuple[str, str]]) -> None:
        # Literal text (always holding an "="), or the name of a per-request parameter whose value goes there.
        self._pieces: list[str] = []
        literal = ""
        for index, (key, value) in enumerate(params):
            separator = "&" if index else ""
            if key in _PER_REQUEST:
                self._pieces += [f"{literal}{separator}{_encode(key)}=", key]
                literal = ""
            else:
                literal += f"{separator}{_encode(key)}={_encode(value)}"
        self._pieces.append(literal)

    def render(self, room: RoomRequest) -> str:
        values = {
            "cursor": room.cursor or _PLAYER_FIRST["cursor"],
            "internal_ext": room.internal_ext or _PLAYER_FIRST["internal_ext"],
            "room_id": room.room_id,
        }
        return "".join(_encode(values[piece]) if piece in _PER_REQUEST else piece for piece in self._pieces)


class WebcastClient:
    """Talks to webcast.tiktok.com (or the emulator) on behalf of identities."""

    def __init__(
        self,
        transport: Transport,
        *,
        webcast_base: str,
        contact_email: str = "",
        signer: RequestSigner | None = None,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        rng: random.Random | None = None,
        signatures: frozenset[str] = ALL_SIGNATURES,
    ) -> None:
        unknown = signatures - ALL_SIGNATURES
        if unknown:
            raise ValueError(f"unknown signatures {sorted(unknown)}; known: {', '.join(SIGNATURES)}")
        self._signatures = signatures
        self._transport = transport
        self._base = webcast_base.rstrip("/")
        self._contact_email = contact_email
        self._signer: RequestSigner = signer or InProcessSigner()
        self._now_ms = now_ms
        self._rng = rng or random.SystemRandom()
        self._templates: WeakKeyDictionary[Identity, QueryTemplate] = WeakKeyDictionary()

    def _template(self, identity: Identity) -> QueryTemplate:
        template = self._templates.get(identity)
        if template is None:
            template = QueryTemplate(im_fetch_params(identity, RoomRequest(""), contact_email=self._contact_email))
            self._templates[identity] = template
        return template

    async def build_request(
        self, identity: Identity, room: RoomRequest, *, besides: frozenset[str] = NOTHING
    ) -> Prepared | Refusal:
        """The request exactly as it will go on the wire, carrying the signatures chosen for im/fetch, signed
        by the first backend not in `besides`."""
        url = f"{self._base}{IM_FETCH_PATH}?{self._template(identity).render(room)}"
        if not self._signatures & {"X-Bogus", "X-Gnarly"}:
            # Nothing to compute: the page's own im/fetch is unsigned (field-notes-2026-12 §1.1).
            if "msToken" in self._signatures:
                url = append_param(url, "msToken", identity.ms_token)
            return Prepared(UpstreamRequest("GET", url, im_fetch_headers({}, identity), identity.profile.impersonate))
        job = SignJob("GET", url, "", identity.profile, self._now_ms(), identity.ms_token, identity.sdk_session)
        signed = await self._signer.sign(job, self._rng, besides=besides)
        if isinstance(signed, Refusal):
            return signed
        identity.sdk_session = signed.request.session
        headers = im_fetch_headers(signed.request.headers, identity)
        request = UpstreamRequest("GET", self._keep_chosen(signed.request.url), headers, identity.profile.impersonate)
        return Prepared(request, signed.backend)

    def _keep_chosen(self, signed_url: str) -> str:
        """The signed URL without the signatures the endpoint table leaves out (the others stay byte for byte)."""
        dropped = ALL_SIGNATURES - self._signatures
        if not dropped:
            return signed_url
        parts = split(signed_url)
        return f"{parts.base}?{strip_params(parts.query, dropped)}"

    async def fetch(self, identity: Identity, room: RoomRequest) -> Fetched | Refusal:
        """One im/fetch, signed by each configured backend in turn while TikTok refuses the signature as it
        refuses a bad one. Never raises for TikTok's behaviour: refusals come back as values."""

        async def prepare(besides: frozenset[str]) -> Prepared | Refusal:
            return await self.build_request(identity, room, besides=besides)

        async def send(prepared: Prepared) -> Fetched | Refusal:
            return await self._send(identity, prepared.request)

        return await until_a_signature_is_accepted(self._signer, prepare, send)

    async def _send(self, identity: Identity, request: UpstreamRequest) -> Fetched | Refusal:
        ttwid_sent = identity.ttwid
        try:
            response = await self._transport.send(request)
        except TransportTimeout as exc:
            return classify_transport_failure(timed_out=True, detail=str(exc))
        except TransportError as exc:
            return classify_transport_failure(timed_out=False, detail=str(exc))
        identity.absorb(response.header_list("set-cookie"), response.header("x-ms-token"))
        outcome = classify_fetch(response.status, response.first_headers, response.body)
        if isinstance(outcome, Refusal):
            return outcome
        # Hand the client the freshest ttwid TikTok knows this identity by.
        return Fetched(outcome, identity.ttwid or ttwid_sent)
