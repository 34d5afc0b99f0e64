"""X-Bogus: the 28-character query signature (signatures.md §1).

The token carries 16 bits of the double-MD5 of the query and of the body, 16 bits of a UA hash, the time
in seconds, the canvas fingerprint and a checksum, behind a constant RC4 mask and a custom base64.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache

from ttsign.signing.alphabet import AlphabetError, Base64Alphabet
from ttsign.signing.digest import md5md5, rc4, rc4_constant_mask

ALPHABET = Base64Alphabet("Dkdpgh4ZKsQB80/Mfvw36XI1R25-WUAlEi7NLboqYTOPuzmFjJnryx9HVGcaStCe")
TOKEN_LENGTH = 28
_PLAIN_LENGTH = 19
_MAGIC = 0x40
_PREFIX = b"\x02\xff"
# RC4 with the one-byte key 0xFF has a fixed keystream, so the outer cipher is an XOR with this mask.
_MASK = int.from_bytes(rc4_constant_mask(b"\xff", _PLAIN_LENGTH), "big")
_HEAD = struct.Struct(">BBBB2s2s2sII")


class XBogusError(ValueError):
    """A token that is not a well-formed X-Bogus."""


@dataclass(frozen=True)
class XBogus:
    """The fields an X-Bogus carries."""

    envcode: int
    ubcode: int
    query_hash: bytes  # bytes 14..15 of md5(md5(query))
    body_hash: bytes  # bytes 14..15 of md5(md5(body))
    ua_hash: bytes  # bytes 14..15 of the UA hash
    ts: int
    canvas: int
    checksum: int


@lru_cache(maxsize=256)
def ua_hash(user_agent: str, envcode: int, ubcode: int) -> bytes:
    """md5 of base64(RC4([0, envcode, ubcode], UA)); the SDK RC4s UTF-16 code units, i.e. latin-1 here."""
    try:
        raw = user_agent.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise XBogusError("the User-Agent must be latin-1 text") from exc
    sealed = rc4(bytes((0, envcode & 0xFF, ubcode & 0xFF)), raw)
    return hashlib.md5(base64.b64encode(sealed), usedforsecurity=False).digest()


@lru_cache(maxsize=64)
def _body_hash(body: str) -> bytes:
    return md5md5(body.encode("utf-8"))[14:16]


def query_hash(query: str) -> bytes:
    return md5md5(query.encode("utf-8"))[14:16]


def body_hash(body: str) -> bytes:
    # Bodies repeat (most signed requests are GETs with ""), so the hash is cached.
    return _body_hash(body) if len(body) <= 256 else md5md5(body.encode("utf-8"))[14:16]


def encode(query: str, body: str, user_agent: str, *, ts: int, envcode: int, ubcode: int, canvas: int) -> str:
    """Sign `query` (the exact string after '?') and `body` for `user_agent` at unix time `ts`."""
    head = _HEAD.pack(
        _MAGIC,
        0,
        envcode,
        ubcode,
        query_hash(query),
        body_hash(body),
        ua_hash(user_agent, envcode, ubcode)[14:16],
        ts & 0xFFFFFFFF,
        canvas & 0xFFFFFFFF,
    )
    checksum = 0
    for byte in head:
        checksum ^= byte
    plain = int.from_bytes(head, "big") << 8 | checksum
    return ALPHABET.encode(_PREFIX + (plain ^ _MASK).to_bytes(_PLAIN_LENGTH, "big"))


def decode(token: str) -> XBogus:
    """Unpack a token; raise XBogusError when it is not a well-formed X-Bogus."""
    if len(token) != TOKEN_LENGTH:
        raise XBogusError(f"X-Bogus must be {TOKEN_LENGTH} characters, got {len(token)}")
    try:
        raw = ALPHABET.decode(token)
    except AlphabetError as exc:
        raise XBogusError(f"X-Bogus {exc}") from exc
    if raw[:2] != _PREFIX:
        raise XBogusError("X-Bogus does not start with the 0x02 0xFF prefix")
    plain = (int.from_bytes(raw[2:], "big") ^ _MASK).to_bytes(_PLAIN_LENGTH, "big")
    magic, zero, envcode, ubcode, qh, bh, uh, ts, canvas = _HEAD.unpack(plain[:18])
    if magic != _MAGIC or zero != 0:
        raise XBogusError("X-Bogus has the wrong magic bytes")
    checksum = 0
    for byte in plain[:18]:
        checksum ^= byte
    if checksum != plain[18]:
        raise XBogusError("X-Bogus checksum does not match")
    return XBogus(envcode, ubcode, qh, bh, uh, ts, canvas, checksum)


@dataclass(frozen=True)
class XBogusMatch:
    """Which parts of a decoded X-Bogus agree with the request it came with."""

    query: bool
    body: bool
    user_agent: bool


def match(token: XBogus, query: str, body: str, user_agent: str) -> XBogusMatch:
    """Recompute the three hashes (the UA key comes from the token itself) and compare."""
    try:
        ua_ok = ua_hash(user_agent, token.envcode, token.ubcode)[14:16] == token.ua_hash
    except XBogusError:
        ua_ok = False
    return XBogusMatch(
        query=query_hash(query) == token.query_hash,
        body=body_hash(body) == token.body_hash,
        user_agent=ua_ok,
    )
