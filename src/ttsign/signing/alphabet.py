"""Base64 with a custom alphabet, as the signatures use it (standard bit layout, other characters)."""

from __future__ import annotations

import base64
import binascii

_STANDARD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class AlphabetError(ValueError):
    """Text that is not valid in a signature's alphabet."""


class Base64Alphabet:
    """Encode and decode base64 through `bytes.translate`, so the work stays in C."""

    def __init__(self, alphabet: str) -> None:
        symbols = alphabet.encode("ascii")
        if len(symbols) != 64 or len(set(symbols)) != 64 or b"=" in symbols:
            raise ValueError("a base64 alphabet needs 64 distinct characters other than '='")
        self.symbols = alphabet
        self._charset = frozenset(alphabet)
        self._to_custom = bytes.maketrans(_STANDARD, symbols)
        self._to_standard = bytes.maketrans(symbols, _STANDARD)

    def encode(self, data: bytes, *, pad: bool = True) -> str:
        text = base64.b64encode(data).translate(self._to_custom)
        if not pad:
            text = text.rstrip(b"=")
        return text.decode("ascii")

    def decode(self, text: str) -> bytes:
        """Decode `text`; '=' padding is optional, any other foreign character is an error."""
        body = text.rstrip("=")
        if len(text) - len(body) > 2 or not self._charset.issuperset(body):
            raise AlphabetError("contains characters outside the signature alphabet")
        if len(body) % 4 == 1:
            raise AlphabetError("has an impossible length for base64")
        standard = body.encode("ascii").translate(self._to_standard)
        try:
            return base64.b64decode(standard + b"=" * (-len(standard) % 4), validate=True)
        except binascii.Error as exc:  # pragma: no cover - guarded by the checks above
            raise AlphabetError(str(exc)) from exc

    def is_valid(self, text: str) -> bool:
        return self._charset.issuperset(text.rstrip("="))
