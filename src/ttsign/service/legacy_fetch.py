"""Legacy im/fetch through ttsign: how tiktok-live-connector 1.x connects since TikTok closed im/fetch.

Node 1.x asks `GET /webcast/sign_url?url=<im/fetch URL>` for a signed URL and then sends that URL itself,
then opens the socket the answer names (`wsUrl`, with `wsParams` over its own query, its whole cookie jar as
`Cookie`). Since 2026-09 TikTok answers a non-browser's im/fetch with an empty 200, so a signed im/fetch URL
is a dead end. Instead the legacy route hands out a URL of ttsign's own: a connect route that answers what
`/webcast/fetch` answers through the connect strategies (direct first, no im/fetch), so the client opens the
push socket of that result.

Why TikTok's socket and not ttsign's relay: the client's cookie jar takes `Set-Cookie` from every answer of
its HTTP client, ttsign's included, and sends the whole jar on the socket; so the fetch answer can hand it
the identity's `ttwid`, as `X-Set-TT-Cookie` does for the other clients. The route params of the direct
result override the client's own (old) browser params on the socket query. (When `relay` is the first
strategy, the relay's answer is what the client gets, as for every other client.)

The socket's browser: Node 1.x opens its socket with its own default headers (a Chrome 106 User-Agent), not
with the `User-Agent` the sign answer gave its HTTP client, and its own query names that browser
(`browser_name`/`browser_version` are navigator's). The push server refuses browser params its User-Agent
contradicts, so the fetch is served for the browser the im/fetch URL names: the direct result's route params
(which override the client's own on the socket) then agree with the socket's User-Agent.

Keys and limits: the sign call is admitted and counted as every call is, and before a fetch URL is handed out
the connect it stands for meets what a connect meets (token scope and connections, the distinct-room cap);
the URL carries no key but a ticket: an HMAC over the room, the caller's label, the socket's browser and the
issue time, good for a short while and for one fetch, so it can neither be reused to skip the limits nor
turned to another room.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from ttsign.service.admission import Admission, Caller, Denied
from ttsign.service.connect import ConnectService
from ttsign.service.rooms import InvalidInput, check_room_id
from ttsign.service.strategies import Connected
from ttsign.upstream.refusals import Refusal

FETCH_PATH = "/webcast/legacy/fetch/"  # where the handed-out URL points, on this server
TICKET_PARAM = "fetch_ticket"  # masked in logs (logs.py), as every credential in a URL
TICKET_LIFETIME_S = 60  # the client fetches right after signing; a minute covers a slow sign server
_IM_FETCH_PATHS = frozenset({"/webcast/im/fetch", "/webcast/im/fetch/"})


def im_fetch_room(url: str) -> str | None:
    """The room of an im/fetch URL (the first fetch of Node 1.x), or None for any other URL."""
    parts = urlsplit(url)
    if parts.path not in _IM_FETCH_PATHS:
        return None
    room = dict(parse_qsl(parts.query)).get("room_id", "")
    try:
        return check_room_id(room) if room not in ("", "0") else None
    except InvalidInput:
        return None


def socket_user_agent(url: str) -> str:
    """The User-Agent the client's socket will present, as its own query describes it ("" when it does not):
    navigator's `appName` is "Mozilla" and `appVersion` the UA after "Mozilla/"."""
    params = dict(parse_qsl(urlsplit(url).query))
    version = params.get("browser_version", "")
    if params.get("browser_name") != "Mozilla" or not version or len(version) > 400:
        return ""
    return f"Mozilla/{version}"


@dataclass(frozen=True)
class FetchTicket:
    """What a handed-out fetch URL names: every field is bound by the ticket's MAC."""

    room_id: str
    caller: str
    user_agent: str


def _mac(secret: bytes, fields: FetchTicket, issued_s: int) -> str:
    text = f"{fields.room_id}\n{fields.caller}\n{fields.user_agent}\n{issued_s}"
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()[:32]


def issue_ticket(secret: bytes, fields: FetchTicket, now_s: int) -> str:
    return f"{now_s}.{_mac(secret, fields, now_s)}"


def ticket_expiry(secret: bytes, fields: FetchTicket, ticket: str, now_s: int) -> int | None:
    """When the ticket expires (unix s) if it is ours, for these fields, and fresh; else None."""
    issued, _, mac = ticket.partition(".")
    if not issued.isdigit() or len(issued) > 12:
        return None
    issued_s = int(issued)
    if not 0 <= now_s - issued_s <= TICKET_LIFETIME_S:
        return None
    if not hmac.compare_digest(mac, _mac(secret, fields, issued_s)):
        return None
    return issued_s + TICKET_LIFETIME_S


@dataclass(frozen=True)
class TicketRefused:
    """The fetch URL's ticket is not (or no longer) good; the message says which, nothing secret."""

    message: str


class LegacyFetchThrough:
    """Decides whether a legacy sign request is answered with ttsign's fetch URL, and serves that URL."""

    def __init__(
        self,
        connect: ConnectService,
        admission: Admission,
        secret: Callable[[], Awaitable[bytes]],
        *,
        enabled: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connect = connect
        self._admission = admission
        self._secret = secret
        self._once = admission.connections  # counts one fetch per ticket, in the store every replica shares
        # Only while `direct` leads: with `fetch` first, TikTok's own im/fetch is the way in (the 2026-08
        # era), and the signed URL is what the client needs.
        self.enabled = enabled and bool(connect.strategies) and connect.strategies[0].name == "direct"
        self._clock = clock

    async def fetch_url(self, signed_url: str, asked_url: str, base_url: str, caller: Caller) -> str | Denied | None:
        """ttsign's fetch URL (under `base_url`) for a signed im/fetch URL; None: hand out `signed_url`; Denied:
        the connect it stands for is over the caller's room cap or token's connections (as a connect would be).

        The room is read from the URL as signed (and scope-checked), the socket's browser from the URL as the
        client asked (`asked_url`): signing aligns its browser params to the signing profile."""
        room_id = im_fetch_room(signed_url) if self.enabled else None
        if room_id is None:
            return None
        denied = await self._admission.admit_room(caller, room_id)
        if denied is not None:
            return denied
        fields = FetchTicket(room_id, caller.label, socket_user_agent(asked_url))
        ticket = issue_ticket(await self._secret(), fields, int(self._clock()))
        query = {"room_id": room_id, "caller": caller.label, "user_agent": fields.user_agent, TICKET_PARAM: ticket}
        return f"{base_url.rstrip('/')}{FETCH_PATH}?{urlencode(query)}"

    async def fetch(self, fields: FetchTicket, ticket: str, *, request_id: str) -> Connected | Refusal | TicketRefused:
        """The first fetch result for a ticket's room, through the connect strategies. Raises InvalidInput."""
        check_room_id(fields.room_id)
        expiry = ticket_expiry(await self._secret(), fields, ticket, int(self._clock()))
        if expiry is None:
            return TicketRefused("the fetch ticket is invalid or expired; sign the URL again")
        if not await self._once.take(f"legacy-fetch:{ticket}", 1, expiry):
            return TicketRefused("the fetch ticket was used already; sign the URL again")
        return await self._connect.connect(
            fields.room_id, user_agent=fields.user_agent or None, request_id=request_id, caller=fields.caller
        )


__all__ = [
    "FETCH_PATH",
    "TICKET_PARAM",
    "FetchTicket",
    "LegacyFetchThrough",
    "TicketRefused",
    "im_fetch_room",
    "issue_ticket",
    "socket_user_agent",
    "ticket_expiry",
]
