"""A URL as a browser reads it (the WHATWG URL Standard), in the one form that is both checked and signed.

Python's urllib splits URLs by RFC 3986, browsers and Node by WHATWG; the two disagree on backslashes,
percent-encoded and ignorable characters in hosts, tabs and newlines, `%2e` dot segments and IDNA. A URL
judged by one and sent by the other can name another host or path, so ttsign parses with ada (the WHATWG
parser Node itself uses; pure computation, no I/O) and signs exactly the serialisation it judged.
"""

from __future__ import annotations

from dataclasses import dataclass

from ada_url import URL

from ttsign.signing import url as urls


class UrlSyntaxError(ValueError):
    """Text that is not a URL by the WHATWG rules, or whose form would change again when re-read."""


@dataclass(frozen=True)
class BrowserUrl:
    href: str  # the WHATWG serialisation: lower-case scheme and host, default port dropped, dots resolved
    scheme: str  # without ':'
    username: str
    password: str
    hostname: str  # ASCII (IDNA applied), IPv4 in dotted decimal, IPv6 in brackets; '' for none
    port: int | None  # None when the URL names none or the scheme's default port
    path: str  # dot segments (also `%2e`) removed, still percent-encoded
    has_fragment: bool  # a `#...` part, which browsers never send


def parse(url: str) -> BrowserUrl:
    """`url` parsed and serialised as a browser would; raise UrlSyntaxError where a browser fails."""
    try:
        parsed = URL(url)
    except ValueError as exc:  # ada's "Invalid URL", or text that is not UTF-8-encodable (lone surrogates)
        raise UrlSyntaxError("not a URL by the WHATWG URL Standard") from exc
    href = parsed.href
    return BrowserUrl(
        href=href,
        scheme=parsed.protocol.removesuffix(":"),
        username=parsed.username,
        password=parsed.password,
        hostname=parsed.hostname,
        port=int(parsed.port) if parsed.port else None,
        path=parsed.pathname,
        # '#' only survives serialisation as the fragment delimiter: elsewhere it is percent-encoded.
        has_fragment="#" in href,
    )


def canonical(url: str) -> BrowserUrl:
    """The WHATWG form of `url` after the vendor SDK's own encoding step, which must be a fixed point of both.

    The signer applies the SDK's encodeURI step to what it is given (it can encode '|', '^' or an IPv6
    host's brackets, which WHATWG keeps); the URL returned must read the same to a browser, so that what was
    checked is what is signed and what is sent.
    """
    first = parse(url)
    encoded = urls.normalize(first.href)
    if encoded == first.href:
        return first
    unstable = UrlSyntaxError("the URL does not keep one form under browser and SDK encoding")
    try:
        again = parse(encoded)
    except UrlSyntaxError as exc:
        raise unstable from exc
    if again.href != encoded:
        raise unstable
    return again
