"""The signed `GET /webcast/im/fetch/` that opens a room: parameters, headers, signing, classification."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote
from weakref import WeakKeyDictionary

from ttsign.signing import BrowserProfile, SdkSession, SignedRequest, sign_request
from ttsign.upstream.browser_headers import fetch_headers
from ttsign.upstream.identity import Identity
from ttsign.upstream.refusals import FetchPayload, Refusal, classify_fetch, classify_transport_failure
from ttsign.upstream.transport import Transport, TransportError, TransportTimeout, UpstreamRequest

IM_FETCH_PATH = "/webcast/im/fetch/"
_PER_REQUEST = frozenset({"cursor", "internal_ext", "room_id"})
TIKTOK_ORIGIN = "https://www.tiktok.com"


class Signer(Protocol):
    """What signs a TikTok URL (the native signer now; other backends later)."""

    def __call__(
        self,
        method: str,
        url: str,
        body: str,
        profile: BrowserProfile,
        *,
        now_ms: int,
        rng: random.Random,
        ms_token: str = "",
        session: SdkSession | None = None,
    ) -> SignedRequest: ...


@dataclass(frozen=True)
class RoomRequest:
    """What to fetch: the room and where the client stands in it (empty on first connect)."""

    room_id: str
    cursor: str = ""
    internal_ext: str = ""


@dataclass(frozen=True)
class Fetched:
    """A successful im/fetch: TikTok's bytes and the `ttwid` the client must present on the WebSocket."""

    payload: FetchPayload
    ttwid: str


def im_fetch_params(identity: Identity, room: RoomRequest, *, contact_email: str) -> list[tuple[str, str]]:
    """The im/fetch query of the Euler custom-sign-server guide, with this identity's browser values."""
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
        "cursor": room.cursor,
        "debug": "false",
        "device_platform": "web",
        "did_rule": "3",
        "fetch_rule": "1",
        "history_comment_count": "6",
        "history_comment_cursor": "",
        "identity": "audience",
        "internal_ext": room.internal_ext,
        "last_rtt": "0",
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
    return list(params.items())


def im_fetch_headers(signed: SignedRequest, identity: Identity) -> dict[str, str]:
    headers = {
        "Accept": "*/*",
        "Accept-Language": identity.profile.accept_language,
        "Referer": f"{TIKTOK_ORIGIN}/",
        "Origin": TIKTOK_ORIGIN,
        **signed.headers,
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
        values = {"cursor": room.cursor, "internal_ext": room.internal_ext, "room_id": room.room_id}
        return "".join(_encode(values[piece]) if piece in _PER_REQUEST else piece for piece in self._pieces)


class WebcastClient:
    """Talks to webcast.tiktok.com (or the emulator) on behalf of identities."""

    def __init__(
        self,
        transport: Transport,
        *,
        webcast_base: str,
        contact_email: str = "",
        signer: Signer = sign_request,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        rng: random.Random | None = None,
    ) -> None:
        self._transport = transport
        self._base = webcast_base.rstrip("/")
        self._contact_email = contact_email
        self._signer = signer
        self._now_ms = now_ms
        self._rng = rng or random.SystemRandom()
        self._templates: WeakKeyDictionary[Identity, QueryTemplate] = WeakKeyDictionary()

    def _template(self, identity: Identity) -> QueryTemplate:
        template = self._templates.get(identity)
        if template is None:
            template = QueryTemplate(im_fetch_params(identity, RoomRequest(""), contact_email=self._contact_email))
            self._templates[identity] = template
        return template

    def build_request(self, identity: Identity, room: RoomRequest) -> UpstreamRequest:
        """The signed request, exactly as it will go on the wire."""
        query = self._template(identity).render(room)
        signed = self._signer(
            "GET",
            f"{self._base}{IM_FETCH_PATH}?{query}",
            "",
            identity.profile,
            now_ms=self._now_ms(),
            rng=self._rng,
            ms_token=identity.ms_token,
            session=identity.sdk_session,
        )
        identity.sdk_session = signed.session
        return UpstreamRequest("GET", signed.url, im_fetch_headers(signed, identity), identity.profile.impersonate)

    async def fetch(self, identity: Identity, room: RoomRequest) -> Fetched | Refusal:
        """One signed im/fetch. Never raises for TikTok's behaviour: refusals come back as values."""
        request = self.build_request(identity, room)
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
