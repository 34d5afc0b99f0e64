"""The hash helpers the signatures share: MD5 over UTF-8, and RC4."""

from __future__ import annotations

import hashlib
from functools import lru_cache


def md5hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def md5md5(data: bytes) -> bytes:
    inner = hashlib.md5(data, usedforsecurity=False).digest()
    return hashlib.md5(inner, usedforsecurity=False).digest()


@lru_cache(maxsize=4)
def _keystream_prefix(key: bytes, length: int) -> bytes:
    return rc4(key, bytes(length))


def rc4(key: bytes, data: bytes) -> bytes:
    """Plain RC4 (KSA + PRGA); the signatures use it only on short inputs."""
    s = list(range(256))
    j = 0
    klen = len(key)
    for i in range(256):
        j = (j + s[i] + key[i % klen]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray(len(data))
    i = j = 0
    for n, byte in enumerate(data):
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out[n] = byte ^ s[(s[i] + s[j]) & 0xFF]
    return bytes(out)


def rc4_constant_mask(key: bytes, length: int) -> bytes:
    """The keystream of `key` as a reusable XOR mask (X-Bogus's outer RC4 is a constant)."""
    return _keystream_prefix(key, length)
