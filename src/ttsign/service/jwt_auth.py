"""Short-lived JWTs for browser apps: a key's holder mints them so the key itself never ships to a browser.

A token is scoped by expiry (at most an hour, a minute by default), by the creators it may connect to
(unique ids or room ids) and by how many connects it may make. It carries the key's id, so the key's
limits apply, and revoking the key revokes every token minted from it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jwt

ISSUER = "ttsign"
ALGORITHM = "HS256"
MAX_LIFETIME_S = 3600
DEFAULT_LIFETIME_S = 60


class JwtError(ValueError):
    """A token that is malformed, forged, expired or out of scope."""


@dataclass(frozen=True)
class JwtGrant:
    key_id: str
    token_id: str  # jti: what connect counting and revocation key on
    expires_at: int
    allowed_creators: tuple[str, ...] | None  # None: any creator
    max_connections: int | None  # None: only the key's own limits
    # Whether a request is in scope is judged on the room it is served: see service/scope.py.


class JwtAuthority:
    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret must be at least 32 bytes")
        self._secret = secret
        self._clock = clock

    def issue(
        self,
        key_id: str,
        *,
        lifetime_s: int = DEFAULT_LIFETIME_S,
        allowed_creators: Sequence[str] | None = None,
        max_connections: int | None = None,
    ) -> tuple[str, JwtGrant]:
        if not 1 <= lifetime_s <= MAX_LIFETIME_S:
            raise JwtError(f"lifetime must be 1..{MAX_LIFETIME_S} seconds")
        if max_connections is not None and max_connections < 1:
            raise JwtError("max_connections must be at least 1")
        now = int(self._clock())
        grant = JwtGrant(
            key_id=key_id,
            token_id=secrets.token_hex(8),
            expires_at=now + lifetime_s,
            allowed_creators=tuple(allowed_creators) if allowed_creators is not None else None,
            max_connections=max_connections,
        )
        claims: dict[str, object] = {
            "iss": ISSUER,
            "sub": key_id,
            "jti": grant.token_id,
            "iat": now,
            "exp": grant.expires_at,
        }
        if grant.allowed_creators is not None:
            claims["creators"] = list(grant.allowed_creators)
        if max_connections is not None:
            claims["max_conn"] = max_connections
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), grant

    def verify(self, token: str) -> JwtGrant:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "iss"], "verify_iat": False},
                leeway=0,
                # PyJWT checks exp against its own clock; do it here against the injected one as well.
            )
        except jwt.PyJWTError as exc:
            raise JwtError(f"invalid token: {exc}") from exc
        if int(claims["exp"]) <= self._clock():
            raise JwtError("invalid token: Signature has expired")
        creators = claims.get("creators")
        max_conn = claims.get("max_conn")
        if creators is not None and not (isinstance(creators, list) and all(isinstance(c, str) for c in creators)):
            raise JwtError("invalid token: creators claim")
        if max_conn is not None and not isinstance(max_conn, int):
            raise JwtError("invalid token: max_conn claim")
        return JwtGrant(
            key_id=str(claims["sub"]),
            token_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            allowed_creators=tuple(creators) if creators is not None else None,
            max_connections=max_conn,
        )
