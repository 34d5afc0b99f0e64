"""msToken format, malformed-token errors, and the ChaCha variant against an independent reference."""

from __future__ import annotations

import random
import struct

import pytest

from ttsign.signing import chacha, generate_ms_token, is_valid_ms_token, xbogus, xgnarly
from ttsign.signing.acrawler import AcrawlerError
from ttsign.signing.acrawler import decode as decode_signature


def test_generated_ms_tokens_are_well_formed() -> None:
    rng = random.Random(3)
    for length in (100, 148, 200):
        token = generate_ms_token(rng, length)
        assert len(token) == length and is_valid_ms_token(token)
    with pytest.raises(ValueError):
        generate_ms_token(rng, 99)


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        ("", True),
        ("A" * 148, True),
        ("A" * 142 + "==", True),
        ("A" * 99, False),
        ("A" * 201, False),
        ("A+" * 60, False),
    ],
)
def test_ms_token_validation(token: str, ok: bool) -> None:
    assert is_valid_ms_token(token) is ok


@pytest.mark.parametrize(
    "token", ["", "DFSzsw", "DFSzswVOgGJANcccCmht-CoHQws!", "A" * 28, "DFSzswVOgGJANcccCmht-CoHQwsQQ"]
)
def test_malformed_x_bogus_is_rejected(token: str) -> None:
    with pytest.raises(xbogus.XBogusError):
        xbogus.decode(token)


@pytest.mark.parametrize("token", ["", "M5Ht", "!" * 324, "u" * 80, "M" + "5" * 323])
def test_malformed_x_gnarly_is_rejected(token: str) -> None:
    with pytest.raises(xgnarly.XGnarlyError):
        xgnarly.decode(token)


@pytest.mark.parametrize("token", ["", "_02B4Z6wo00f01", "_02B4Z6wo00f01" + "!" * 33])
def test_malformed_signature_is_rejected(token: str) -> None:
    with pytest.raises(AcrawlerError):
        decode_signature(token)


# An independent, word-at-a-time reference written from signatures.md §2 for cross-checking.
SIGMA = (0x475602B6, 0x23D22697, 0xE6460233, 0x56870716)


def _rotl(v: int, n: int) -> int:
    return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF


def _qr(s: list[int], a: int, b: int, c: int, d: int) -> None:
    for x, y, z, r in ((a, b, d, 16), (c, d, b, 12), (a, b, d, 8), (c, d, b, 7)):
        s[x] = (s[x] + s[y]) & 0xFFFFFFFF
        s[z] = _rotl(s[z] ^ s[x], r)


def reference_keystream(key: bytes, length: int) -> bytes:
    words = list(struct.unpack("<12I", key))
    state = list(SIGMA) + words
    rounds = sum(w & 15 for w in words) % 16 + 5
    out = b""
    while len(out) < length:
        x = state[:]
        for n in range(rounds):
            quads = [(0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15)]
            if n % 2:
                quads = [(0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 12, 13), (3, 4, 13, 14)]
            for quad in quads:
                _qr(x, *quad)
        out += struct.pack("<16I", *((x[i] + state[i]) & 0xFFFFFFFF for i in range(16)))
        state[12] = (state[12] + 1) & 0xFFFFFFFF
    return out[:length]


@pytest.mark.parametrize("length", [1, 63, 64, 65, 193, 250, 1000])
def test_pure_keystream_matches_the_reference(length: int) -> None:
    rng = random.Random(length)
    for _ in range(10):
        key = rng.randbytes(48)
        assert chacha.keystream(chacha.key_words(key), length) == reference_keystream(key, length)


def test_block_counter_wraps_modulo_2_32() -> None:
    key = bytearray(random.Random(1).randbytes(48))
    key[32:36] = b"\xff\xff\xff\xff"  # key word 8 is the block counter
    assert chacha.keystream(chacha.key_words(bytes(key)), 200) == reference_keystream(bytes(key), 200)


@pytest.mark.skipif(chacha.native_keystream is None, reason="compiled fast path not built")
def test_compiled_keystream_matches_the_pure_one() -> None:
    assert chacha.native_keystream is not None
    rng = random.Random(11)
    for length in (0, 1, 64, 193, 700):
        key = rng.randbytes(48)
        assert chacha.native_keystream(key, length) == chacha.keystream(chacha.key_words(key), length)


def test_pure_fallback_produces_the_same_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    fields: dict[int, int | str] = {1: 1, 3: "abc", 6: 1767225600, 9: "5.1.3"}
    key = random.Random(5).randbytes(48)
    with_default = xgnarly.encode(fields, [9, 1, 6, 3], key)
    monkeypatch.setattr(chacha, "native_keystream", None)
    monkeypatch.setattr(xgnarly, "native_token", None)
    assert xgnarly.encode(fields, [9, 1, 6, 3], key) == with_default


needs_native_token = pytest.mark.skipif(xgnarly.native_token is None, reason="compiled fast path not built")


def pure_token(fields: dict[int, int | str], order: list[int], key: bytes, fmt: xgnarly.PayloadFormat) -> str:
    return xgnarly.seal(xgnarly.serialize(fields, order, fmt), key)


@needs_native_token
def test_compiled_token_matches_the_pure_one() -> None:
    assert xgnarly.native_token is not None
    rng = random.Random(12)
    # Around every width boundary and past the ends: negative and >= 2^32 integers are dropped.
    edges = [0, 1, 255, 255 * 255 - 1, 255 * 255, (1 << 16) - 1, 1 << 16, (1 << 32) - 1, 1 << 32, -1, 1 << 70]
    texts = ["", "5.1.3", "é€😀", "x" * 300, "d41d8cd98f00b204e9800998ecf8427e"]
    for _ in range(300):
        keys = rng.sample(range(256), rng.randint(1, 24))
        fields: dict[int, int | str] = {k: rng.choice([rng.choice(edges), rng.choice(texts)]) for k in keys}
        order = list(keys)
        rng.shuffle(order)
        key = rng.randbytes(48)
        for fmt in (xgnarly.FORMAT_5_1_3, xgnarly.FORMAT_LEGACY):
            assert xgnarly.encode(fields, order, key, fmt) == pure_token(fields, order, key, fmt)


@pytest.mark.parametrize(
    ("fields", "order"),
    [({1: 1, 2: 2}, [1]), ({1: 1}, [1, 1]), ({1: 1}, [2]), ({1: 1, 2: 2}, [1, 1]), ({1: 1}, [])],
)
def test_an_order_that_does_not_name_every_field_once_is_refused(
    fields: dict[int, int | str], order: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="exactly once"):  # the compiled path, when built
        xgnarly.encode(fields, order, bytes(48))
    monkeypatch.setattr(xgnarly, "native_token", None)
    with pytest.raises(ValueError, match="exactly once"):
        xgnarly.encode(fields, order, bytes(48))


@needs_native_token
def test_compiled_token_refuses_a_short_key_and_foreign_values() -> None:
    with pytest.raises(ValueError):
        xgnarly.encode({1: 1}, [1], bytes(47))
    with pytest.raises(TypeError):
        xgnarly.encode({1: 1.5}, [1], bytes(48))  # type: ignore[dict-item]
