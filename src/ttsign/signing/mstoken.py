"""msToken: the mssdk session token that rides last in every signed query (signatures.md §5)."""

from __future__ import annotations

import random
import re

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
MIN_LENGTH = 100
MAX_LENGTH = 200
DEFAULT_LENGTH = 148  # what TikTok issues today (f2 requires exactly this length)
_FORMAT = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def is_valid_ms_token(token: str) -> bool:
    """base64url text of 100..200 characters, or "" (the SDK signs `msToken=` before mssdk answers)."""
    if token == "":
        return True
    return MIN_LENGTH <= len(token) <= MAX_LENGTH and _FORMAT.fullmatch(token) is not None


def generate_ms_token(rng: random.Random, length: int = DEFAULT_LENGTH) -> str:
    """A well-formed token: `length` base64url characters (a stand-in until TikTok issues a real one)."""
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"msToken length must be {MIN_LENGTH}..{MAX_LENGTH}, got {length}")
    return "".join(rng.choice(ALPHABET) for _ in range(length))
