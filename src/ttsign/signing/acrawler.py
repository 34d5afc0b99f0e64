"""The legacy `_signature` of `byted_acrawler.sign` (`_02B4Z6wo00f01...`, signatures.md §3b).

Everything in it is recoverable: the time, the canvas fingerprint, and 16-bit residues of the UA and
URL-parameter hashes, so a verifier decodes it and re-signs to compare.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass
from urllib.parse import urlsplit

PREFIX = "_02B4Z6wo00f01"
_MOD = 65521
_MULT = 65599
_HI = 8240  # the top 14 bits of c6 = 2*2^44 + 3*2^36 + c10
_CH6 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789>?"
_CH6_INDEX = {ch: i for i, ch in enumerate(_CH6)} | {"-": 62, ".": 63}
_BODY_LENGTH = 31
SIGNATURE_LENGTH = len(PREFIX) + _BODY_LENGTH + 2


class AcrawlerError(ValueError):
    """Text that is not a legacy `_signature`."""


def _utf16_units(text: str) -> array[int]:
    # JS charCodeAt walks UTF-16 code units, so astral characters count as two surrogates.
    units = array("H")
    units.frombytes(text.encode("utf-16-le", "surrogatepass"))
    if sys.byteorder == "big":  # pragma: no cover - the encoding above is little-endian
        units.byteswap()
    return units


def _hash(seed: int, text: str) -> int:
    h = seed
    for unit in _utf16_units(text):
        h = ((h ^ unit) * _MULT) & 0xFFFFFFFF
    return h


def _e(x: int) -> str:
    x &= 0xFFFFFFFF
    return "".join(_CH6[(x >> shift) & 63] for shift in (24, 18, 12, 6, 0))


def _e_inverse(text: str) -> int:
    value = 0
    for ch in text:
        index = _CH6_INDEX.get(ch)
        if index is None:
            raise AcrawlerError(f"_signature contains {ch!r}, which is not in its alphabet")
        value = value << 6 | index
    return value


def url_params(url: str) -> str:
    """The hashed parameter string: query params sorted by key, then pathname, tt_webid and uuid."""
    parts = urlsplit(url)
    params: dict[str, str] = {}
    for pair in parts.query.split("&") if parts.query else []:
        key, sep, value = pair.partition("=")
        params[key] = value.split("=", 1)[0] if sep else "undefined"
    # JS sorts keys by UTF-16 code units; code point order agrees for the BMP.
    text = "".join(f"{key}={params[key]}&" for key in sorted(params, key=_utf16_units))
    return f"{text}pathname={parts.path}&tt_webid=&uuid="


def _replace_first(text: str) -> str:
    return text.replace(">", "-", 1).replace("?", ".", 1)


def _tail(text: str) -> str:
    h = 0
    for unit in _utf16_units(text):
        h = (h * _MULT + unit) & 0xFFFFFFFF
    return format(h, "x")[-2:]


def sign(url: str, user_agent: str, *, referer: str, ts: int, canvas: int) -> str:
    h = _hash(_hash(0, str(ts)), referer.removeprefix("https://"))
    c7 = h % _MOD
    c10 = ((c7 * _MOD) ^ ts) & 0xFFFFFFFF
    c15 = _hash(0, str((2 << 44) + (3 << 36) + c10))
    one = (canvas ^ c10) & 0xFFFFFFFF
    vals = ((_hash(c15, user_agent) % _MOD) << 16) | (_hash(c15, url_params(url)) % _MOD)
    body = (
        _e(c10 >> 2)
        + _e((_HI >> 4) | (c10 << 28))
        + _e((_HI << 26) | (one >> 6))
        + _CH6[one & 63]
        + _e(vals >> 2)
        + _e(((c10 ^ 288) >> 4) | (vals << 28))
        + _e(c7)
    )
    signature = _replace_first(PREFIX + body)
    return _replace_first(signature + _tail(signature))


@dataclass(frozen=True)
class LegacySignature:
    ts: int
    canvas: int
    ua_residue: int
    params_residue: int


def decode(signature: str) -> LegacySignature:
    """Recover what a `_signature` carries; raise AcrawlerError when it is malformed."""
    if len(signature) != SIGNATURE_LENGTH or not signature.startswith(PREFIX):
        raise AcrawlerError(f"_signature must be {SIGNATURE_LENGTH} characters starting {PREFIX}")
    body = signature[len(PREFIX) : len(PREFIX) + _BODY_LENGTH]
    s1, s2, s3, s3_low = body[0:5], body[5:10], body[10:15], body[15]
    s4a, s4b, s5 = body[16:21], body[21:26], body[26:31]
    c10 = ((_e_inverse(s1) << 2) | ((_e_inverse(s2) >> 28) & 3)) & 0xFFFFFFFF
    one = ((_e_inverse(s3) << 6) | _e_inverse(s3_low)) & 0xFFFFFFFF
    vals = ((_e_inverse(s4a) << 2) | ((_e_inverse(s4b) >> 28) & 3)) & 0xFFFFFFFF
    c7 = _e_inverse(s5)
    return LegacySignature(
        ts=((c7 * _MOD) ^ c10) & 0xFFFFFFFF,
        canvas=one ^ c10,
        ua_residue=vals >> 16,
        params_residue=vals & 0xFFFF,
    )


def verify(signature: str, url: str, user_agent: str, *, referer: str) -> LegacySignature:
    """Decode, then re-sign with the recovered time and canvas: every character must agree."""
    decoded = decode(signature)
    expected = sign(url, user_agent, referer=referer, ts=decoded.ts, canvas=decoded.canvas)
    if expected != signature:
        raise AcrawlerError("_signature does not match this URL, User-Agent and referer")
    return decoded
