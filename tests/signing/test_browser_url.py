"""The WHATWG reading of a URL, and the one form both a browser and the vendor SDK keep."""

from __future__ import annotations

import pytest

from ttsign.signing import browser_url
from ttsign.signing.browser_url import UrlSyntaxError


def test_parse_reports_the_parts_a_browser_sees() -> None:
    parsed = browser_url.parse("HTTPS://u:p@WebCast.TikTok.com:8443/a/./b/%2e%2e/c?q=1#top")
    assert parsed.href == "https://u:p@webcast.tiktok.com:8443/a/c?q=1#top"
    assert (parsed.scheme, parsed.username, parsed.password) == ("https", "u", "p")
    assert (parsed.hostname, parsed.port, parsed.path, parsed.has_fragment) == (
        "webcast.tiktok.com",
        8443,
        "/a/c",
        True,
    )


def test_default_port_and_empty_fragment() -> None:
    parsed = browser_url.parse("https://webcast.tiktok.com:443/w?x#")
    assert (parsed.port, parsed.has_fragment) == (None, True)  # an empty fragment is still sent as nothing


@pytest.mark.parametrize("text", ["not a url", "https://exa mple.com/", "https://a:99999/", "http://[::1/"])
def test_what_a_browser_cannot_parse_is_a_syntax_error(text: str) -> None:
    with pytest.raises(UrlSyntaxError):
        browser_url.parse(text)


def test_canonical_applies_the_sdk_encoding_the_signer_will_apply() -> None:
    # WHATWG keeps '|' and '^' in a query; the SDK's encodeURI step (no '%' yet) encodes them.
    canonical = browser_url.canonical("https://webcast.tiktok.com/webcast/a|b?a=b|c^d")
    assert canonical.href == "https://webcast.tiktok.com/webcast/a%7Cb?a=b%7Cc%5Ed"
    assert canonical.path == "/webcast/a%7Cb"  # the parts describe the URL as it will be sent


def test_canonical_refuses_a_url_the_sdk_encoding_would_move() -> None:
    # encodeURI turns an IPv6 host's brackets into %5B/%5D, which no longer name the same host.
    with pytest.raises(UrlSyntaxError, match="one form"):
        browser_url.canonical("https://[::1]/webcast/x")
