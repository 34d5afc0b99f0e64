"""JWTs for browser apps: scoped, short-lived, unforgeable."""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest

from ttsign.service.jwt_auth import MAX_LIFETIME_S, JwtAuthority, JwtError

SECRET = b"s" * 32


def test_issued_token_verifies_with_its_scope() -> None:
    authority = JwtAuthority(SECRET)
    token, grant = authority.issue("k1", lifetime_s=60, allowed_creators=["@Emu_Streamer"], max_connections=3)
    verified = authority.verify(token)
    assert verified == grant
    assert verified.allowed_creators == ("@Emu_Streamer",)
    assert authority.verify(authority.issue("k1")[0]).allowed_creators is None


def test_expired_forged_and_malformed_tokens_are_refused() -> None:
    now = [time.time()]
    authority = JwtAuthority(SECRET, clock=lambda: now[0])
    token, _ = authority.issue("k1", lifetime_s=5)
    now[0] += 6
    with pytest.raises(JwtError, match="expired"):
        authority.verify(token)
    other = JwtAuthority(b"t" * 32)
    with pytest.raises(JwtError):
        other.verify(JwtAuthority(SECRET).issue("k1")[0])
    for bad in ("", "abc", "a.b.c"):
        with pytest.raises(JwtError):
            authority.verify(bad)
    unsigned = pyjwt.encode({"sub": "k1", "exp": int(time.time()) + 60}, key=None, algorithm="none")
    with pytest.raises(JwtError):
        authority.verify(unsigned)


def test_lifetime_and_scope_bounds() -> None:
    authority = JwtAuthority(SECRET)
    with pytest.raises(JwtError):
        authority.issue("k1", lifetime_s=MAX_LIFETIME_S + 1)
    with pytest.raises(JwtError):
        authority.issue("k1", max_connections=0)
    with pytest.raises(ValueError):
        JwtAuthority(b"short")
