"""Admin console sessions: a signed, short-lived token in a cookie, and the CSRF token that goes with it.

Stateless on purpose: `ttsign serve --workers N` answers each request from any worker, so a session must be
checkable by every worker without shared state. The signing key is derived from `admin_secret`, so changing
the secret ends every session. The CSRF token is derived from the session's nonce: a page that can read it
(same origin only) proves it is ttsign's own page, and the server needs to remember nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE_NAME = "ttsign_admin"
CSRF_HEADER = "x-csrf-token"
_VERSION = "v1"
_CLOCK_SKEW_S = 60  # a token "issued" this far in the future (another worker's clock) is still taken


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class AdminSession:
    token: str  # the cookie value: a secret, never logged
    csrf_token: str
    expires_at: int  # unix seconds


class AdminSessions:
    """Issues and checks session tokens: `v1.<issued>.<nonce>.<mac>`."""

    def __init__(self, admin_secret: str, ttl_s: float, *, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(admin_secret.encode("utf-8"), b"ttsign admin session key", hashlib.sha256).digest()
        self._secret_digest = hashlib.sha256(admin_secret.encode("utf-8")).digest()
        self.ttl_s = ttl_s
        self._clock = clock

    def secret_matches(self, presented: str) -> bool:
        """Constant-time comparison of what an operator typed with `admin_secret`."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        return hmac.compare_digest(digest, self._secret_digest)

    def issue(self) -> AdminSession:
        issued = int(self._clock())
        nonce = secrets.token_urlsafe(18)
        body = f"{_VERSION}.{issued}.{nonce}"
        return AdminSession(f"{body}.{self._mac(body)}", self._csrf(nonce), int(issued + self.ttl_s))

    def check(self, token: str) -> AdminSession | None:
        """The session a cookie value stands for, or None (malformed, forged, expired)."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != _VERSION or not parts[1].isdigit():
            return None
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._mac(body)):
            return None
        issued, now = int(parts[1]), self._clock()
        if issued > now + _CLOCK_SKEW_S or now >= issued + self.ttl_s:
            return None
        return AdminSession(token, self._csrf(parts[2]), int(issued + self.ttl_s))

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def _csrf(self, nonce: str) -> str:
        return _b64(hmac.new(self._key, f"csrf.{nonce}".encode("ascii"), hashlib.sha256).digest())
