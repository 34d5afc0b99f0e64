"""X-Gnarly: the ChaCha-sealed request fingerprint (signatures.md §2).

A payload is a set of numbered fields (integers and strings) written as TLV in a per-page field order,
encrypted with a random 48-byte key, the key spliced into the ciphertext at a position derived from
the bytes themselves, and the lot encoded in a custom base64.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from ttsign.signing import chacha
from ttsign.signing.alphabet import AlphabetError, Base64Alphabet

ALPHABET = Base64Alphabet("u09tbS3UvgDEe6r-ZVMXzLpsAohTn7mdINQlW412GqBjfYiyk8JORCF5/xKHwacP")
MAGIC = 0x4B  # (1 << 6) | 8 | 3; 0x4C would mean a compressed payload, never observed
FieldValue = int | str
_U16 = struct.Struct(">H")
_ALPHABET_BYTES = ALPHABET.symbols.encode("ascii")

NativeToken = Callable[..., str]  # (fields, order, key, short_int_limit, alphabet, magic[, widths, rounds])
native_token: NativeToken | None
try:  # the optional compiled fast path (setup.py); serialize and seal below are the reference and fallback
    from ttsign.signing._xgnarly import token as native_token
except ImportError:  # pragma: no cover - depends on whether a compiler was present at install time
    native_token = None


class XGnarlyError(ValueError):
    """A token that is not a well-formed X-Gnarly."""


@dataclass(frozen=True)
class PayloadFormat:
    """How one payload version writes integers and seals them.

    Integers take 2 bytes below `short_int_limit`, else 4, unless `fixed_widths` names a width (2 or 4)
    for the field, as the 5.1.3-ZTCA peer writes them. `rounds` 0 lets the key decide its ChaCha round
    count (every known SDK); a positive value fixes it.
    """

    version: str
    short_int_limit: int
    fixed_widths: tuple[tuple[int, int], ...] = ()
    rounds: int = 0

    def __post_init__(self) -> None:
        for key, width in self.fixed_widths:
            if not 0 <= key <= 255 or width not in (2, 4):
                raise ValueError(f"field {key}: a fixed integer width is 2 or 4 bytes, got {width}")
        if not 0 <= self.rounds <= 255:
            raise ValueError(f"ChaCha rounds must be 0 (key-derived) or 1..255, got {self.rounds}")

    @property
    def default_shape(self) -> bool:
        """Minimal widths and key-derived rounds: the compiled path's original, fastest call."""
        return not self.fixed_widths and not self.rounds

    @cached_property
    def width_table(self) -> bytes:
        """256 bytes, one per field key: its fixed width, or 0 for the minimal-width rule."""
        table = bytearray(256)
        for key, width in self.fixed_widths:
            table[key] = width
        return bytes(table)


# The SDK (5.1.3) switches to 4 bytes at 65536; the older public tools at 65025 (255 * 255).
FORMAT_5_1_3 = PayloadFormat("5.1.3", 1 << 16)
FORMAT_LEGACY = PayloadFormat("5.1.x", 255 * 255)


@dataclass(frozen=True)
class Envelope:
    """A decoded token: the fields in wire order, plus the random material that sealed them."""

    fields: dict[int, FieldValue]
    field_order: tuple[int, ...]
    field_widths: dict[int, int]
    key: bytes
    key_position: int
    rounds: int


_TLV_HEAD = struct.Struct(">BH").pack
_TLV_SHORT = struct.Struct(">BHH").pack
_TLV_LONG = struct.Struct(">BHI").pack


def serialize(fields: Mapping[int, FieldValue], order: Sequence[int], fmt: PayloadFormat) -> bytes:
    """TLV: [count] then [key][len BE16][value] per field; integers of 2^32 or more are dropped, as the SDK does."""
    parts = [b""]
    short_limit = fmt.short_int_limit
    widths = fmt.width_table if fmt.fixed_widths else None
    for key in order:
        value = fields[key]
        width = widths[key] if widths is not None else 0
        if isinstance(value, str):
            data = value.encode("utf-8")
            parts.append(_TLV_HEAD(key, len(data)))
            parts.append(data)
        elif not 0 <= value < 1 << 32:
            continue
        elif width == 2 or (width == 0 and value < short_limit):
            parts.append(_TLV_SHORT(key, 2, value & 0xFFFF))  # a fixed width keeps the low bytes
        else:
            parts.append(_TLV_LONG(key, 4, value))
    parts[0] = bytes((len(parts) - 1 - sum(isinstance(fields[k], str) for k in order),))
    return b"".join(parts)


def seal(plaintext: bytes, key: bytes, rounds: int = 0) -> str:
    """Encrypt, splice the key in at its content-derived position, and encode."""
    cipher = chacha.crypt(key, plaintext, rounds)
    position = (sum(key) + sum(cipher)) % (len(cipher) + 1)
    raw = bytes((MAGIC,)) + cipher[:position] + key + cipher[position:]
    return ALPHABET.encode(raw)


def encode(
    fields: Mapping[int, FieldValue], order: Sequence[int], key: bytes, fmt: PayloadFormat = FORMAT_5_1_3
) -> str:
    if native_token is not None and isinstance(fields, dict):
        if fmt.default_shape:
            return native_token(fields, order, key, fmt.short_int_limit, _ALPHABET_BYTES, MAGIC)
        return native_token(
            fields, order, key, fmt.short_int_limit, _ALPHABET_BYTES, MAGIC, fmt.width_table, fmt.rounds
        )
    if sorted(order) != sorted(fields):
        raise ValueError("field order must name every field exactly once")
    return seal(serialize(fields, order, fmt), key, fmt.rounds)


def open_envelope(token: str, rounds: int = 0) -> tuple[bytes, bytes, int]:
    """Return (plaintext, key, key_position) of a token; `rounds` 0: the key decides, as in every known SDK."""
    try:
        raw = ALPHABET.decode(token)
    except AlphabetError as exc:
        raise XGnarlyError(f"X-Gnarly {exc}") from exc
    if len(raw) < 1 + chacha.KEY_BYTES + 1:
        raise XGnarlyError("X-Gnarly is too short to hold a key and a payload")
    if raw[0] != MAGIC:
        raise XGnarlyError(f"X-Gnarly has unknown envelope byte 0x{raw[0]:02x}")
    body = raw[1:]
    cipher_len = len(body) - chacha.KEY_BYTES
    # The sum of all bytes does not depend on where the key sits, so the position can be recomputed.
    position = sum(body) % (cipher_len + 1)
    key = body[position : position + chacha.KEY_BYTES]
    cipher = body[:position] + body[position + chacha.KEY_BYTES :]
    return chacha.crypt(key, cipher, rounds), key, position


def parse(plaintext: bytes, string_keys: frozenset[int]) -> tuple[dict[int, FieldValue], list[int], dict[int, int]]:
    """Parse TLV; `string_keys` names the fields that hold text, every other field is a BE integer."""
    if not plaintext:
        raise XGnarlyError("X-Gnarly payload is empty")
    count, offset = plaintext[0], 1
    fields: dict[int, FieldValue] = {}
    order: list[int] = []
    widths: dict[int, int] = {}
    for _ in range(count):
        if offset + 3 > len(plaintext):
            raise XGnarlyError("X-Gnarly payload ends inside a field header")
        key = plaintext[offset]
        (length,) = _U16.unpack_from(plaintext, offset + 1)
        value = plaintext[offset + 3 : offset + 3 + length]
        if len(value) != length:
            raise XGnarlyError(f"X-Gnarly field {key} runs past the end of the payload")
        if key in fields:
            raise XGnarlyError(f"X-Gnarly field {key} appears twice")
        fields[key] = _field_value(key, value, string_keys)
        order.append(key)
        widths[key] = length
        offset += 3 + length
    if offset != len(plaintext):
        raise XGnarlyError(f"X-Gnarly payload has {len(plaintext) - offset} bytes left over")
    return fields, order, widths


def _field_value(key: int, value: bytes, string_keys: frozenset[int]) -> FieldValue:
    if key in string_keys:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise XGnarlyError(f"X-Gnarly field {key} is not UTF-8 text") from exc
    if len(value) not in (1, 2, 4):
        raise XGnarlyError(f"X-Gnarly integer field {key} has width {len(value)}")
    return int.from_bytes(value, "big")


# Fields 3, 4, 5 (hashes), 9 (payload version) and 10 (SDK build) are text in every known version.
STRING_FIELDS = frozenset({3, 4, 5, 9, 10})


def decode(token: str, rounds: int = 0) -> Envelope:
    plaintext, key, position = open_envelope(token, rounds)
    fields, order, widths = parse(plaintext, STRING_FIELDS)
    return Envelope(fields, tuple(order), widths, key, position, rounds or chacha.rounds_for(chacha.key_words(key)))
