"""Kernel randomness, drawn in blocks: the same CSPRNG as `random.SystemRandom`, far fewer system calls.

Every connect draws about 60 random bytes (X-Gnarly's key material and counters, a request id). Through
`SystemRandom` and `uuid4` that was four `getrandom` calls per connect, each a system call costing more
than the bytes it returns. Here bytes come from one `os.urandom` call per 4 KiB. A forked child drops the
block it inherited, so two processes never hand out the same bytes.
"""

from __future__ import annotations

import os
import random
import weakref

_BLOCK_BYTES = 4096
_RECIP_BPF = 2.0**-53  # as random.SystemRandom.random: 53 random bits scaled to [0, 1)


class BufferedSystemRandom(random.SystemRandom):
    """`random.SystemRandom` reading `os.urandom` a block at a time (not reproducible, not seedable)."""

    def __init__(self, block_bytes: int = _BLOCK_BYTES) -> None:
        super().__init__()
        self._block_bytes = block_bytes
        self._block = b""
        self._at = 0
        _LIVE.add(self)

    def _forget(self) -> None:
        self._block, self._at = b"", 0

    def randbytes(self, n: int) -> bytes:
        if n > self._block_bytes:
            return os.urandom(n)
        if self._at + n > len(self._block):
            self._block, self._at = os.urandom(self._block_bytes), 0
        start = self._at
        self._at += n
        return self._block[start : self._at]

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        size = (k + 7) // 8
        return int.from_bytes(self.randbytes(size), "big") >> (size * 8 - k)

    def random(self) -> float:
        return (int.from_bytes(self.randbytes(7), "big") >> 3) * _RECIP_BPF


_LIVE: weakref.WeakSet[BufferedSystemRandom] = weakref.WeakSet()


def _forget_all_in_child() -> None:
    for rng in list(_LIVE):
        rng._forget()


os.register_at_fork(after_in_child=_forget_all_in_child)
_PROCESS = BufferedSystemRandom()


def fresh_request_id() -> str:
    """A fresh request id: 128 random bits as 32 hex digits (the shape uuid4().hex had)."""
    return _PROCESS.randbytes(16).hex()
