"""The typed refusal taxonomy and the pure classification of raw TikTok responses.

A refusal is a plain value: a code clients and logs can match on, a message, and what to try. Nothing here
does I/O, so every rule is unit-tested on bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from google.protobuf.message import DecodeError

from ttsign.proto.webcast_pb2 import ProtoMessageFetchResult


class RefusalCode(StrEnum):
    """Why TikTok (or the way to it) did not give us a usable answer."""

    EMPTY_200 = "empty_200"
    FORBIDDEN_403 = "forbidden_403"
    DEVICE_BLOCKED = "device_blocked"
    CAPTCHA = "captcha"
    ROOM_NOT_LIVE = "room_not_live"
    ROOM_NOT_FOUND = "room_not_found"
    TIMEOUT = "timeout"
    TRANSPORT_ERROR = "transport_error"
    MALFORMED_PAYLOAD = "malformed_payload"
    UPSTREAM_5XX = "upstream_5xx"
    UPSTREAM_4XX = "upstream_4xx"
    CIRCUIT_OPEN = "circuit_open"
    NO_TTWID = "no_ttwid"
    NO_STRATEGY = "no_strategy"
    SIGNER_UNAVAILABLE = "signer_unavailable"


@dataclass(frozen=True)
class _Kind:
    message: str
    hint: str
    retires_identity: bool  # TikTok refused *this identity*: bootstrap a fresh one next time
    transient: bool  # worth retrying later (the retry policy of issue 5 keys on this)


_KINDS: dict[RefusalCode, _Kind] = {
    RefusalCode.EMPTY_200: _Kind(
        "TikTok answered 200 with an empty body: it rejected the signature or the identity.",
        "The identity was retired; retry once. If it persists, the signer is out of date.",
        retires_identity=True,
        transient=False,
    ),
    RefusalCode.FORBIDDEN_403: _Kind(
        "TikTok answered 403 Forbidden.",
        "The identity was retired; retry once. Persistent 403s mean the egress IP is blocked: use a proxy.",
        retires_identity=True,
        transient=False,
    ),
    RefusalCode.DEVICE_BLOCKED: _Kind(
        "TikTok blocked the device (DEVICE_BLOCKED).",
        "The identity was retired; retry once with a fresh device id, or change the egress IP.",
        retires_identity=True,
        transient=False,
    ),
    RefusalCode.CAPTCHA: _Kind(
        "TikTok answered with a captcha/WAF page instead of data.",
        "The egress IP or identity is flagged; slow down or use a residential proxy.",
        retires_identity=True,
        transient=False,
    ),
    RefusalCode.ROOM_NOT_LIVE: _Kind(
        "The room exists but is not live.",
        "Check that the streamer is live, then connect again.",
        retires_identity=False,
        transient=False,
    ),
    RefusalCode.ROOM_NOT_FOUND: _Kind(
        "TikTok does not know this room id.",
        "Check the room id (look it up again from the streamer's unique id).",
        retires_identity=False,
        transient=False,
    ),
    RefusalCode.TIMEOUT: _Kind(
        "TikTok did not answer in time.",
        "Retry later; raise upstream_total_timeout_s only if your clients wait longer.",
        retires_identity=False,
        transient=True,
    ),
    RefusalCode.TRANSPORT_ERROR: _Kind(
        "Could not reach TikTok (connection or proxy failure).",
        "Check network, DNS and the proxy setting, then retry.",
        retires_identity=False,
        transient=True,
    ),
    RefusalCode.MALFORMED_PAYLOAD: _Kind(
        "TikTok's answer was not a usable im/fetch result.",
        "Retry; if it persists TikTok changed its format and ttsign needs an update.",
        retires_identity=False,
        transient=False,
    ),
    RefusalCode.UPSTREAM_5XX: _Kind(
        "TikTok answered with a server error.",
        "Retry later; TikTok is having trouble.",
        retires_identity=False,
        transient=True,
    ),
    RefusalCode.UPSTREAM_4XX: _Kind(
        "TikTok rejected the request with an unexpected client error.",
        "Retry later; if it persists ttsign's request needs an update.",
        retires_identity=False,
        transient=False,
    ),
    # Not `transient`: retrying inside the same budget is pointless; the client retries after Retry-After.
    RefusalCode.CIRCUIT_OPEN: _Kind(
        "ttsign paused calls to TikTok for this room or identity after repeated failures.",
        "Retry after the cooldown (Retry-After); if it keeps happening, TikTok or the egress path is failing.",
        retires_identity=False,
        transient=False,
    ),
    RefusalCode.NO_TTWID: _Kind(
        "TikTok's cookie pages minted no ttwid for the identity.",
        "TikTok mints ttwid on only some requests: retry, or raise bootstrap_attempts; a persistent failure "
        "means the egress IP gets challenge pages (use a residential proxy).",
        retires_identity=False,
        transient=False,
    ),
    RefusalCode.NO_STRATEGY: _Kind(
        "Every connect strategy was refused or is paused.",
        "See the log line for each strategy's refusal; check connect_strategies and the egress path.",
        retires_identity=False,
        transient=False,
    ),
    RefusalCode.SIGNER_UNAVAILABLE: _Kind(
        "No configured signer backend could sign the request to TikTok.",
        "See the log line for each backend's refusal; check signer_backends (vendor-script workers, remote).",
        retires_identity=False,
        transient=False,
    ),
}


@dataclass(frozen=True)
class Refusal:
    """A typed reason TikTok gave no usable answer.

    `detail` adds request-specific facts callers may read; `cause` is for the server log only (what the
    transport said, which can name the proxy), with any credentials in it already masked.
    """

    code: RefusalCode
    detail: str = ""
    upstream_status: int | None = None
    retry_after_s: float | None = None  # when it is worth asking again (an open circuit's cooldown)
    cause: str = field(default="", compare=False)

    @property
    def message(self) -> str:
        """What callers are told: the kind's message and the public detail, never the cause."""
        base = _KINDS[self.code].message
        return f"{base} ({self.detail})" if self.detail else base

    @property
    def log_message(self) -> str:
        """The message with the cause, for the server log."""
        return f"{self.message} [{self.cause}]" if self.cause else self.message

    @property
    def hint(self) -> str:
        return _KINDS[self.code].hint

    @property
    def retires_identity(self) -> bool:
        return _KINDS[self.code].retires_identity

    @property
    def transient(self) -> bool:
        return _KINDS[self.code].transient


# What TikTok answers a signature it rejects (on im/fetch and on the socket's handshake); the same answers
# can mean the identity, so a signer backend is only blamed when another backend's signature for the same
# request is then accepted (upstream/signer.py).
SIGNATURE_REFUSALS = frozenset({RefusalCode.EMPTY_200, RefusalCode.FORBIDDEN_403})


@dataclass(frozen=True)
class FetchPayload:
    """A usable im/fetch answer: the raw bytes (handed to clients unchanged) and what we checked in them."""

    body: bytes
    cursor: str
    push_server: str
    is_first: bool


# TikTok's webcast JSON errors (status_code in an HTTP 200 body) that name the room's state.
_ROOM_STATUS_CODES = {30003: RefusalCode.ROOM_NOT_LIVE, 30001: RefusalCode.ROOM_NOT_FOUND}
_CAPTCHA_MARKERS = (b"captcha", b"verify_center", b"waf", b"_wafchallenge", b"tt_challenge", b"access denied")
_DEVICE_BLOCKED = "DEVICE_BLOCKED"


def classify_fetch(status: int, headers: dict[str, str], body: bytes) -> FetchPayload | Refusal:
    """Turn a raw im/fetch answer into a payload or a refusal. `headers` keys are lower-case."""
    if _device_blocked(headers, body):
        return Refusal(RefusalCode.DEVICE_BLOCKED, upstream_status=status)
    if status != 200:
        return classify_error_status(status, headers, body)
    if not body:
        return Refusal(RefusalCode.EMPTY_200, upstream_status=status)
    kind = _body_kind(headers, body)
    if kind == "html":
        return _classify_html(status, body)
    if kind == "json":
        return _classify_json(status, body)
    if kind == "text":
        if _looks_like_captcha(body):
            return Refusal(RefusalCode.CAPTCHA, "captcha text", status)
        return Refusal(RefusalCode.MALFORMED_PAYLOAD, "text instead of protobuf", status)
    return _parse_fetch_result(body, status)


def _device_blocked(headers: dict[str, str], body: bytes) -> bool:
    if _DEVICE_BLOCKED in headers.get("handshake-msg", ""):
        return True
    # Only look inside text bodies: a protobuf payload may quote any string (e.g. in a chat message).
    return _body_kind(headers, body) != "protobuf" and _DEVICE_BLOCKED.encode() in body[:4096]


def classify_error_status(status: int, headers: dict[str, str], body: bytes) -> Refusal:
    """Any non-200 TikTok answer."""
    if status >= 500:
        return Refusal(RefusalCode.UPSTREAM_5XX, f"HTTP {status}", status)
    if _looks_like_captcha(body) and _body_kind(headers, body) != "protobuf":
        return Refusal(RefusalCode.CAPTCHA, f"HTTP {status}", status)
    if status == 403:
        return Refusal(RefusalCode.FORBIDDEN_403, upstream_status=status)
    return Refusal(RefusalCode.UPSTREAM_4XX, f"HTTP {status}", status)


def _body_kind(headers: dict[str, str], body: bytes) -> str:
    content_type = headers.get("content-type", "").lower()
    head = body[:64].lstrip()
    if "html" in content_type or head[:1] == b"<":
        return "html"
    if "json" in content_type or head[:1] == b"{":
        return "json"
    if content_type.startswith("text/"):
        return "text"
    return "protobuf"


def _looks_like_captcha(body: bytes) -> bool:
    sample = body[:16384].lower()
    return any(marker in sample for marker in _CAPTCHA_MARKERS)


def _classify_html(status: int, body: bytes) -> Refusal:
    # TikTok never answers im/fetch with HTML unless a WAF or captcha interstitial sits in front of it.
    detail = "captcha page" if _looks_like_captcha(body) else "HTML page instead of protobuf"
    return Refusal(RefusalCode.CAPTCHA, detail, status)


def json_object(status: int, body: bytes) -> dict[str, Any] | Refusal:
    """A JSON answer's top-level object, or the malformed-payload refusal saying what it is instead."""
    try:
        document = json.loads(body)
    except ValueError:
        return Refusal(RefusalCode.MALFORMED_PAYLOAD, "invalid JSON", status)
    if not isinstance(document, dict):
        return Refusal(RefusalCode.MALFORMED_PAYLOAD, "JSON that is not an object", status)
    return document


def _classify_json(status: int, body: bytes) -> Refusal:
    document = json_object(status, body)
    if isinstance(document, Refusal):
        return document
    status_code = document.get("status_code")
    if isinstance(status_code, int) and status_code in _ROOM_STATUS_CODES:
        return Refusal(_ROOM_STATUS_CODES[status_code], _json_message(document), status)
    if _looks_like_captcha(body):
        return Refusal(RefusalCode.CAPTCHA, "captcha JSON", status)
    return Refusal(RefusalCode.MALFORMED_PAYLOAD, f"JSON status_code={status_code!r} {_json_message(document)}", status)


def _json_message(document: dict[str, object]) -> str:
    message = document.get("message")
    return message[:200] if isinstance(message, str) else ""


def _parse_fetch_result(body: bytes, status: int) -> FetchPayload | Refusal:
    result = ProtoMessageFetchResult()
    try:
        result.ParseFromString(body)
    except (DecodeError, ValueError):
        return Refusal(RefusalCode.MALFORMED_PAYLOAD, "protobuf does not parse", status)
    if not result.cursor:
        return Refusal(RefusalCode.MALFORMED_PAYLOAD, "no cursor in the fetch result", status)
    if not result.push_server:
        return Refusal(RefusalCode.MALFORMED_PAYLOAD, "no push_server in the fetch result", status)
    return FetchPayload(body, result.cursor, result.push_server, result.is_first)


# `user:password@` in a URL (a proxy's, as curl may echo it): everything from the token start to the '@'.
_USERINFO = re.compile(r"[^\s/@]+@")


def mask_credentials(text: str) -> str:
    """`text` with any URL userinfo replaced by `***`, so proxy credentials never reach a log line."""
    return _USERINFO.sub("***@", text) if "@" in text else text


def classify_transport_failure(*, timed_out: bool, detail: str) -> Refusal:
    """A request that never produced a response; `detail` (the transport's own text) is kept for the log only.

    curl's messages name the proxy host and port (and some echo its URL), which anonymous callers must not
    learn: they get the kind's generic message, the operator finds the cause by the request id in the log.
    """
    code = RefusalCode.TIMEOUT if timed_out else RefusalCode.TRANSPORT_ERROR
    return Refusal(code, cause=mask_credentials(detail))


def classify_bootstrap(status: int, headers: dict[str, str], body: bytes, *, got_ttwid: bool) -> Refusal | None:
    """Judge the cookie-issuing page: None when it gave us a `ttwid`, else why not."""
    if got_ttwid and status < 400:
        return None
    if _device_blocked(headers, body):
        return Refusal(RefusalCode.DEVICE_BLOCKED, "while fetching cookies", status)
    if status >= 500:
        return Refusal(RefusalCode.UPSTREAM_5XX, f"HTTP {status} while fetching cookies", status)
    if _looks_like_captcha(body):
        return Refusal(RefusalCode.CAPTCHA, "while fetching cookies", status)
    if status == 403:
        return Refusal(RefusalCode.FORBIDDEN_403, "while fetching cookies", status)
    if status >= 400:
        return Refusal(RefusalCode.UPSTREAM_4XX, f"HTTP {status} while fetching cookies", status)
    return Refusal(RefusalCode.NO_TTWID, "www.tiktok.com issued no ttwid cookie", status)
