"""The cookies the emulator hands out (ttwid, msToken) and how it recognises its own ttwid later.

A ttwid is ``1|<random>|<unix time>|<hmac>`` (URL-encoded, like TikTok's), signed with a per-process key, so
"was this issued by us?" needs no storage and cannot be forged by a client that never visited.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
from urllib.parse import quote, unquote

from ttsign.signing import generate_ms_token


class CookieIssuer:
    def __init__(self, key: bytes | None = None, rng: random.Random | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        self._rng = rng or random.Random(secrets.randbits(64))

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:64]

    def issue_ttwid(self, now_s: int | None = None) -> str:
        body = f"1|{secrets.token_urlsafe(32)}|{now_s if now_s is not None else int(time.time())}"
        return quote(f"{body}|{self._mac(body)}", safe="")

    def is_issued(self, ttwid: str | None) -> bool:
        if not ttwid:
            return False
        raw = unquote(ttwid)
        body, sep, mac = raw.rpartition("|")
        return bool(sep) and hmac.compare_digest(mac, self._mac(body))

    def issue_js_token(self) -> str:
        """The value the live page's script writes into document.cookie (only a JavaScript client has it)."""
        body = f"js|{secrets.token_urlsafe(16)}"
        return quote(f"{body}|{self._mac(body)}", safe="")

    def is_js_token(self, value: str | None) -> bool:
        return bool(value) and unquote(value or "").startswith("js|") and self.is_issued(value)

    def issue_ms_token(self) -> str:
        return generate_ms_token(self._rng)


def set_cookie_header(name: str, value: str, max_age: int = 31_536_000) -> str:
    """A host-only cookie (no Domain): the sign server reaches the emulator as 127.0.0.1."""
    return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly"
