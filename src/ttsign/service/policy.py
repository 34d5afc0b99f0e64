"""Which URLs ttsign agrees to sign: TikTok webcast hosts and paths only, unless the operator widens it.

Every rule is applied to the URL as a browser reads it (ttsign.signing.browser_url), and the URL signed is
that normalised form, so a URL cannot pass the check as one host or path and be sent to another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ttsign.signing import browser_url
from ttsign.signing.browser_url import BrowserUrl, UrlSyntaxError

DEFAULT_HOSTS = ("webcast.tiktok.com", "*.tiktok.com")
DEFAULT_PATH_PREFIXES = ("/webcast/", "/api-live/")
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
_SHOWN = 120  # characters of a refused host or path quoted back to the caller


class PolicyError(ValueError):
    """A URL ttsign will not sign, with the reason (`url_invalid`: not a URL; `url_not_allowed`: outside policy)."""

    def __init__(self, message: str, reason: str = "url_not_allowed") -> None:
        super().__init__(message)
        self.reason = reason


def _host_pattern(pattern: str) -> str:
    """An allow-list entry in the form hosts take after WHATWG parsing (lower case, IDNA), wildcard kept."""
    wildcard = pattern.startswith("*.")
    name = pattern[2:] if wildcard else pattern
    try:
        hostname = browser_url.parse(f"https://{name}/").hostname
    except UrlSyntaxError as exc:
        raise ValueError(f"sign_allowed_hosts: {pattern!r} is not a host name") from exc
    return f"*.{hostname}" if wildcard else hostname


@dataclass(frozen=True)
class SigningPolicy:
    allowed_hosts: tuple[str, ...] = DEFAULT_HOSTS  # exact names, or "*.example.com" for subdomains
    allowed_path_prefixes: tuple[str, ...] = DEFAULT_PATH_PREFIXES
    # The `upstream` override (e.g. the local emulator, which serves http and https on ports of its own): on
    # its host, http and any port are signable as before; anywhere else only https on the default port is.
    # The host must still be in the allow-list.
    upstream_base: str | None = None
    _hosts: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _upstream_host: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hosts", tuple(_host_pattern(p) for p in self.allowed_hosts))
        upstream_host = browser_url.parse(self.upstream_base).hostname if self.upstream_base else None
        object.__setattr__(self, "_upstream_host", upstream_host)

    def host_allowed(self, host: str) -> bool:
        """`host` exactly as WHATWG serialises it; a trailing dot makes another origin, so it does not match."""
        for pattern in self._hosts:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return True
            elif host == pattern:
                return True
        return False

    def check(self, url: str) -> str:
        """The normalised URL to sign; raise PolicyError unless it is https on the default port (any http(s) on
        the upstream override's host) to an allowed host and path, without credentials or fragment."""
        try:
            parsed = browser_url.canonical(url)
        except UrlSyntaxError as exc:
            raise PolicyError(f"not an http(s) URL a browser can read: {exc}", "url_invalid") from exc
        self._check_origin(parsed)
        self._check_path(parsed.path)
        return parsed.href

    def _check_origin(self, parsed: BrowserUrl) -> None:
        if parsed.username or parsed.password:
            raise PolicyError("a URL with user credentials (user:password@) is not signed")
        if parsed.has_fragment:
            raise PolicyError("a URL with a #fragment is not signed: browsers never send the fragment")
        if not parsed.hostname or parsed.scheme not in ("https", "http"):
            raise PolicyError("not an https URL with a host")
        if not self.host_allowed(parsed.hostname):
            shown = parsed.hostname[:_SHOWN]
            raise PolicyError(f"host {shown!r} is not a TikTok webcast host this server signs for")
        upstream = parsed.hostname == self._upstream_host
        if parsed.scheme != "https" and not upstream:
            raise PolicyError("only https URLs are signed")
        if parsed.port is not None and not upstream:
            raise PolicyError(f"port {parsed.port} is not signed: only https's default port is")

    def _check_path(self, path: str) -> None:
        # Dot segments, `%2e` ones included, are already resolved by the WHATWG parse. An encoded '/' or '\\'
        # is not, and a server that decodes it before resolving `..` would reach a path the prefix never saw.
        if _ENCODED_SEPARATOR.search(path):
            raise PolicyError(f"path {path[:_SHOWN]!r} hides a '/' or '\\' in percent-encoding")
        if not any(path.startswith(prefix) for prefix in self.allowed_path_prefixes):
            allowed = ", ".join(self.allowed_path_prefixes)
            raise PolicyError(f"path {path[:_SHOWN]!r} is not signable (allowed prefixes: {allowed})")
