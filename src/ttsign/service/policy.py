"""Which URLs ttsign agrees to sign: TikTok webcast hosts and paths only, unless the operator widens it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_HOSTS = ("webcast.tiktok.com", "*.tiktok.com")
DEFAULT_PATH_PREFIXES = ("/webcast/", "/api-live/")


class PolicyError(ValueError):
    """A URL ttsign will not sign, with the reason."""


@dataclass(frozen=True)
class SigningPolicy:
    allowed_hosts: tuple[str, ...] = DEFAULT_HOSTS  # exact names, or "*.example.com" for subdomains
    allowed_path_prefixes: tuple[str, ...] = DEFAULT_PATH_PREFIXES

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.allowed_hosts:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return True
            elif host == pattern:
                return True
        return False

    def check(self, url: str) -> None:
        """Raise PolicyError unless `url` is an https/http URL to an allowed host and path."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError as exc:
            raise PolicyError(f"not a URL: {exc}") from exc
        if parts.scheme not in ("https", "http") or not host:
            raise PolicyError("not an http(s) URL with a host")
        if not self.host_allowed(host):
            raise PolicyError(f"host {host!r} is not a TikTok webcast host this server signs for")
        if not any(parts.path.startswith(prefix) for prefix in self.allowed_path_prefixes):
            allowed = ", ".join(self.allowed_path_prefixes)
            raise PolicyError(f"path {parts.path!r} is not signable (allowed prefixes: {allowed})")
