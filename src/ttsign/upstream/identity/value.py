"""The identity value: one device id, one browser profile and the cookies TikTok issued to them."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from ttsign.signing import BrowserProfile, SdkSession, is_valid_ms_token
from ttsign.upstream.cookies import CookieJar

# TikTok web device ids are 19 digits and, in captures, start with 7.
_DEVICE_ID_LOW = 7_000_000_000_000_000_000
_DEVICE_ID_HIGH = 7_999_999_999_999_999_999


def new_device_id(rng: random.Random) -> str:
    return str(rng.randint(_DEVICE_ID_LOW, _DEVICE_ID_HIGH))


@dataclass(eq=False)
class Identity:
    """A TikTok web identity. Mutable on purpose: TikTok rotates `msToken` and may re-issue cookies."""

    device_id: str
    profile: BrowserProfile
    cookies: CookieJar
    created_at: float
    key: str = field(default_factory=lambda: secrets.token_hex(4))  # opaque, safe to log
    uses: int = 0
    retired: bool = False
    # The signer's page state (request counters): successive requests of one identity come from one page.
    sdk_session: SdkSession | None = field(default=None, repr=False)
    rotated_at: float = 0.0  # wall clock of the msToken/ttwid this copy holds (0: the bootstrap's)
    # Told when TikTok rotates the msToken or ttwid (the pool shares the new one); never on the way in.
    on_rotate: Callable[[Identity], None] | None = field(default=None, repr=False)

    @property
    def ttwid(self) -> str:
        return self.cookies.get("ttwid") or ""

    @property
    def ms_token(self) -> str:
        return self.cookies.get("msToken") or ""

    def absorb(self, set_cookies: list[str], ms_token_header: str | None) -> None:
        """Take what TikTok handed back: new cookies and a rotated `msToken`."""
        before = (self.ttwid, self.ms_token)
        self.cookies.update_from(set_cookies)
        if ms_token_header and is_valid_ms_token(ms_token_header):
            self.cookies.set("msToken", ms_token_header)
        if self.on_rotate is not None and (self.ttwid, self.ms_token) != before:
            self.on_rotate(self)


def identity_slot(profile: BrowserProfile) -> str:
    """The slot an identity fills: one per browser profile and User-Agent (the pool's key, and the key the
    shared store and the identity breakers file it under, as a digest)."""
    return f"{profile.name}\x00{profile.user_agent}"
