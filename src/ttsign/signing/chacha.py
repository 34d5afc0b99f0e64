"""The ChaCha variant inside X-Gnarly (signatures.md §2, "Cipher").

Custom "sigma" constants, 12 key words, no nonce; `rounds` counts *single* rounds (5..20), alternating a
column round and a "diagonal" round, the block counter is state word 12. The diagonal round is not
ChaCha's: its last two quarter-rounds take words 12/13 and 13/14 (QR(2,7,12,13), QR(3,4,13,14)), so the
quarter-rounds of a diagonal round depend on each other, as the vendor SDK computes them.

Pure Python, made fast by SWAR: word i of every keystream block lives in one big integer, one 64-bit
lane per block (32 bits of word plus room for an addition's carry), so one pass over the rounds makes
the whole keystream. (A compiled twin in `_xgnarly` is used when it was built; this stays the
reference.) The quarter-rounds are written out by hand: a helper function costs ~40% more
time in calls and tuple packing, and X-Gnarly throughput is a stated target.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

NativeKeystream = Callable[..., bytes]  # (key, length[, rounds]) -> bytes
native_keystream: NativeKeystream | None
try:  # the optional compiled fast path (setup.py); pure Python below is the reference and the fallback
    from ttsign.signing._xgnarly import keystream as native_keystream
except ImportError:  # pragma: no cover - depends on whether a compiler was present at install time
    native_keystream = None

SIGMA = (0x475602B6, 0x23D22697, 0xE6460233, 0x56870716)
KEY_BYTES = 48
BLOCK_BYTES = 64
_LANE = 64
_KEY_WORDS = struct.Struct("<12I")


def rounds_for(words: tuple[int, ...]) -> int:
    """The key decides its own round count: ((sum of the low nibbles) mod 16) + 5."""
    return (sum(w & 15 for w in words) % 16) + 5


def key_words(key: bytes) -> tuple[int, ...]:
    if len(key) != KEY_BYTES:
        raise ValueError(f"the X-Gnarly key is {KEY_BYTES} bytes, got {len(key)}")
    return _KEY_WORDS.unpack(key)


class _Layout:
    """Constants for one block count: the lane mask, a lane spreader and the unpacker."""

    def __init__(self, blocks: int) -> None:
        self.blocks = blocks
        self.spread = sum(1 << (_LANE * i) for i in range(blocks))  # w * spread puts w in every lane
        self.mask = 0xFFFFFFFF * self.spread
        self.counter_steps = sum(i << (_LANE * i) for i in range(blocks))
        self.unpack: Callable[[bytes], tuple[int, ...]] = struct.Struct("<" + "I4x" * blocks).unpack
        self.size = _LANE // 8 * blocks


_LAYOUTS: dict[int, _Layout] = {}


def _layout(blocks: int) -> _Layout:
    layout = _LAYOUTS.get(blocks)
    if layout is None:
        layout = _LAYOUTS[blocks] = _Layout(blocks)
    return layout


def keystream(words: tuple[int, ...], length: int, rounds: int = 0) -> bytes:  # noqa: PLR0915 - unrolled on purpose
    """`length` bytes of keystream for the 12 key words; `rounds` 0 lets the key decide (every known SDK)."""
    blocks = max(1, -(-length // BLOCK_BYTES))
    lay = _layout(blocks)
    m = lay.mask
    state = [v * lay.spread for v in (*SIGMA, *words)]
    # Block b uses counter w8 + b (mod 2^32): add the per-lane step, then drop the carries.
    state[12] = (state[12] + lay.counter_steps) & m

    x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15 = state
    for n in range(rounds or rounds_for(words)):
        if n & 1 == 0:
            # column round: QR(0,4,8,12)
            x0 = (x0 + x4) & m
            x12 ^= x0
            x12 = ((x12 << 16) | (x12 >> 16)) & m
            x8 = (x8 + x12) & m
            x4 ^= x8
            x4 = ((x4 << 12) | (x4 >> 20)) & m
            x0 = (x0 + x4) & m
            x12 ^= x0
            x12 = ((x12 << 8) | (x12 >> 24)) & m
            x8 = (x8 + x12) & m
            x4 ^= x8
            x4 = ((x4 << 7) | (x4 >> 25)) & m
            # QR(1,5,9,13)
            x1 = (x1 + x5) & m
            x13 ^= x1
            x13 = ((x13 << 16) | (x13 >> 16)) & m
            x9 = (x9 + x13) & m
            x5 ^= x9
            x5 = ((x5 << 12) | (x5 >> 20)) & m
            x1 = (x1 + x5) & m
            x13 ^= x1
            x13 = ((x13 << 8) | (x13 >> 24)) & m
            x9 = (x9 + x13) & m
            x5 ^= x9
            x5 = ((x5 << 7) | (x5 >> 25)) & m
            # QR(2,6,10,14)
            x2 = (x2 + x6) & m
            x14 ^= x2
            x14 = ((x14 << 16) | (x14 >> 16)) & m
            x10 = (x10 + x14) & m
            x6 ^= x10
            x6 = ((x6 << 12) | (x6 >> 20)) & m
            x2 = (x2 + x6) & m
            x14 ^= x2
            x14 = ((x14 << 8) | (x14 >> 24)) & m
            x10 = (x10 + x14) & m
            x6 ^= x10
            x6 = ((x6 << 7) | (x6 >> 25)) & m
            # QR(3,7,11,15)
            x3 = (x3 + x7) & m
            x15 ^= x3
            x15 = ((x15 << 16) | (x15 >> 16)) & m
            x11 = (x11 + x15) & m
            x7 ^= x11
            x7 = ((x7 << 12) | (x7 >> 20)) & m
            x3 = (x3 + x7) & m
            x15 ^= x3
            x15 = ((x15 << 8) | (x15 >> 24)) & m
            x11 = (x11 + x15) & m
            x7 ^= x11
            x7 = ((x7 << 7) | (x7 >> 25)) & m
        else:
            # diagonal round: QR(0,5,10,15)
            x0 = (x0 + x5) & m
            x15 ^= x0
            x15 = ((x15 << 16) | (x15 >> 16)) & m
            x10 = (x10 + x15) & m
            x5 ^= x10
            x5 = ((x5 << 12) | (x5 >> 20)) & m
            x0 = (x0 + x5) & m
            x15 ^= x0
            x15 = ((x15 << 8) | (x15 >> 24)) & m
            x10 = (x10 + x15) & m
            x5 ^= x10
            x5 = ((x5 << 7) | (x5 >> 25)) & m
            # QR(1,6,11,12)
            x1 = (x1 + x6) & m
            x12 ^= x1
            x12 = ((x12 << 16) | (x12 >> 16)) & m
            x11 = (x11 + x12) & m
            x6 ^= x11
            x6 = ((x6 << 12) | (x6 >> 20)) & m
            x1 = (x1 + x6) & m
            x12 ^= x1
            x12 = ((x12 << 8) | (x12 >> 24)) & m
            x11 = (x11 + x12) & m
            x6 ^= x11
            x6 = ((x6 << 7) | (x6 >> 25)) & m
            # QR(2,7,12,13)
            x2 = (x2 + x7) & m
            x13 ^= x2
            x13 = ((x13 << 16) | (x13 >> 16)) & m
            x12 = (x12 + x13) & m
            x7 ^= x12
            x7 = ((x7 << 12) | (x7 >> 20)) & m
            x2 = (x2 + x7) & m
            x13 ^= x2
            x13 = ((x13 << 8) | (x13 >> 24)) & m
            x12 = (x12 + x13) & m
            x7 ^= x12
            x7 = ((x7 << 7) | (x7 >> 25)) & m
            # QR(3,4,13,14)
            x3 = (x3 + x4) & m
            x14 ^= x3
            x14 = ((x14 << 16) | (x14 >> 16)) & m
            x13 = (x13 + x14) & m
            x4 ^= x13
            x4 = ((x4 << 12) | (x4 >> 20)) & m
            x3 = (x3 + x4) & m
            x14 ^= x3
            x14 = ((x14 << 8) | (x14 >> 24)) & m
            x13 = (x13 + x14) & m
            x4 ^= x13
            x4 = ((x4 << 7) | (x4 >> 25)) & m
    final = (x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15)
    columns = [lay.unpack(((x + x_in) & m).to_bytes(lay.size, "little")) for x, x_in in zip(final, state, strict=True)]
    ordered = [column[block] for block in range(blocks) for column in columns]
    return struct.pack(f"<{16 * blocks}I", *ordered)[:length]


def crypt(key: bytes, data: bytes, rounds: int = 0) -> bytes:
    """Encrypt or decrypt (the same operation) `data` under the 48-byte `key`; `rounds` 0: key-derived."""
    if not data:
        return b""
    words = key_words(key)  # validates the key length on both paths
    if native_keystream:
        stream = native_keystream(key, len(data), rounds) if rounds else native_keystream(key, len(data))
    else:
        stream = keystream(words, len(data), rounds)
    mixed = int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")
    return mixed.to_bytes(len(data), "little")
