"""URL handling exactly as the vendor SDK does it before signing (signatures.md §0 and §6).

The signatures hash the exact bytes sent, so nothing here sorts, decodes or re-encodes a URL that is
already percent-encoded: the only rewrites are the SDK's own (encodeURI of a raw URL, `'` to `%27`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

# encodeURI leaves these alone (besides ASCII letters, digits and "-_.~", which quote() keeps anyway).
_ENCODE_URI_SAFE = ";,/?:@&=+$!*'()#"
SIGNATURE_PARAMS = frozenset({"X-Bogus", "X-Gnarly", "msToken", "_signature"})
UNSIGNED_PARAM = "X-Tts-Oec-Bsid"


@dataclass(frozen=True)
class SplitUrl:
    base: str  # everything before '?'
    query: str  # everything after the first '?', '' when there is none
    has_query: bool


def split(url: str) -> SplitUrl:
    base, sep, query = url.partition("?")
    return SplitUrl(base, query, bool(sep))


def normalize(url: str) -> str:
    """The SDK's step 1: encodeURI a URL that decoding would not change, then `'` to `%27` in the query.

    `decodeURIComponent(url) === url` holds exactly when the URL has no '%' at all: a valid escape always
    decodes to something shorter, and a stray '%' makes decoding throw. So the test is a substring check.
    """
    if "%" not in url:
        url = quote(url, safe=_ENCODE_URI_SAFE)
    if "'" in url:
        parts = split(url)
        if parts.has_query:
            url = f"{parts.base}?{parts.query.replace(chr(39), '%27')}"
    return url


def unquote_value(value: str) -> str:
    """A query value as text (percent-decoding, '+' as space) for comparisons; never used for hashing."""
    return unquote(value.replace("+", " "))


def param_name(pair: str) -> str:
    return pair.partition("=")[0]


def strip_params(query: str, names: frozenset[str]) -> str:
    """Drop every `name=...` pair named in `names`, keeping the other pairs byte for byte and in order."""
    if not query or not any(name in query for name in names):  # the usual case, without splitting
        return query
    return "&".join(pair for pair in query.split("&") if param_name(pair) not in names)


def find_param(query: str, name: str) -> str | None:
    """The raw (still encoded) value of the last `name=` in `query`, or None."""
    if name not in query:  # the usual case, without splitting
        return None
    found = None
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            found = value
    return found


def signed_string(query: str) -> str:
    """What the signatures cover: the query without its last `X-Tts-Oec-Bsid` parameter."""
    if UNSIGNED_PARAM not in query:
        return query
    pairs = query.split("&")
    for index in range(len(pairs) - 1, -1, -1):
        if param_name(pairs[index]) == UNSIGNED_PARAM:
            del pairs[index]
            return "&".join(pairs)
    return query


def append_param(url: str, name: str, value: str) -> str:
    parts = split(url)
    if not parts.has_query:
        return f"{url}?{name}={value}"
    if parts.query == "":
        return f"{url}{name}={value}"
    return f"{url}&{name}={value}"


def unsigned_query(query: str) -> str:
    """The query a verifier hashes: the sent query minus X-Bogus and X-Gnarly, in its original order."""
    return strip_params(query, frozenset({"X-Bogus", "X-Gnarly"}))
