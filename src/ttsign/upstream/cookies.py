"""Explicit per-identity cookies: parse `Set-Cookie`, build the `Cookie` header.

Deliberately domain-blind: an identity talks to TikTok only, so every cookie TikTok sets belongs to it,
whether TikTok is www/webcast.tiktok.com or the emulator on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SetCookie:
    """One parsed `Set-Cookie` header: the pair, and whether it deletes the cookie."""

    name: str
    value: str
    deletes: bool


def parse_set_cookie(header: str) -> SetCookie | None:
    """Parse one `Set-Cookie` value; None when it has no usable `name=value` pair."""
    pair, _, attributes = header.partition(";")
    name, sep, value = pair.partition("=")
    name = name.strip()
    if not sep or not name or any(ch in name for ch in " \t,;"):
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return SetCookie(name, value, deletes=not value or _expires_now(attributes))


def _expires_now(attributes: str) -> bool:
    for attribute in attributes.split(";"):
        key, _, val = attribute.partition("=")
        if key.strip().lower() == "max-age" and val.strip().lstrip("-").isdigit() and int(val) <= 0:
            return True
    return False


class CookieJar:
    """Name → value, in insertion order (so `ttwid` stays first when it came first)."""

    def __init__(self, cookies: dict[str, str] | None = None) -> None:
        self._cookies: dict[str, str] = dict(cookies or {})

    def get(self, name: str) -> str | None:
        return self._cookies.get(name)

    def set(self, name: str, value: str) -> None:
        self._cookies[name] = value

    def update_from(self, set_cookie_headers: Iterable[str]) -> list[str]:
        """Apply `Set-Cookie` headers; returns the names that changed."""
        changed: list[str] = []
        for header in set_cookie_headers:
            parsed = parse_set_cookie(header)
            if parsed is None:
                continue
            if parsed.deletes:
                if self._cookies.pop(parsed.name, None) is not None:
                    changed.append(parsed.name)
            elif self._cookies.get(parsed.name) != parsed.value:
                self._cookies[parsed.name] = parsed.value
                changed.append(parsed.name)
        return changed

    def header(self) -> str:
        """The `Cookie` request header value."""
        return "; ".join(f"{name}={value}" for name, value in self._cookies.items())

    def __iter__(self) -> Iterator[str]:
        return iter(self._cookies)

    def __len__(self) -> int:
        return len(self._cookies)

    def __repr__(self) -> str:
        # Never print values: cookies are secrets.
        return f"CookieJar(names={list(self._cookies)})"
