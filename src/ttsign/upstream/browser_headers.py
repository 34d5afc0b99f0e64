"""What a browser sends with TikTok's requests besides cookies and signatures: client hints, fetch metadata.

curl_cffi's impersonation brings a browser's default headers, written for a top-level page load on one
fixed platform: its Chrome targets say `sec-ch-ua-platform: "macOS"` whatever the profile's OS, name
Google Chrome for an Edge or Opera profile, and mark every request as a navigation (`Sec-Fetch-Mode:
navigate`, `Upgrade-Insecure-Requests`). TikTok sees those beside the User-Agent and the signed browser
params. So each request names the profile's own brands and platform, and says what kind of request it is:
the cookie page is a navigation; im/fetch and room/chat are a script's fetch from www.tiktok.com to
webcast.tiktok.com (same-site), api-live one to www.tiktok.com itself (same-origin).

An empty value asks the transport to drop a header the impersonation would otherwise add.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from ttsign.signing import BrowserProfile

# Chromium's "GREASE" brand: a made-up brand whose punctuation, version and place in the list follow from
# the major version, so servers cannot hard-code the list (Chrome 131: "Not_A Brand";v="24" last). This
# is the rule since Chromium 106; before, the made-up brand was always " Not A;Brand";v="99", first in
# the list as Chrome 99 to 101 sent it (the order of 102 to 105 is not known to us: the same is used).
_FIRST_GREASED = 106
_LEGACY_GREASE = ('" Not A;Brand"', "99")
_GREASE_CHARACTERS = (" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_")
_GREASE_VERSIONS = ("8", "99", "24")
_ORDERS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
_BRANDS = {"Chrome": "Google Chrome", "Edge": "Microsoft Edge", "Opera": "Opera"}  # Chromium-based families
_PLATFORMS = {"windows": "Windows", "mac": "macOS", "linux": "Linux"}
_CHROMIUM_MAJOR = re.compile(r"Chrome/(\d+)\.")

Site = Literal["same-origin", "same-site"]


def brand_list(brand: str, brand_major: int, chromium_major: int) -> str:
    """The `sec-ch-ua` value of a Chromium-based browser: its brand, Chromium, and the GREASE brand."""
    if chromium_major < _FIRST_GREASED:
        grease, version = _LEGACY_GREASE
        return f'{grease};v="{version}", "Chromium";v="{chromium_major}", "{brand}";v="{brand_major}"'
    seed = chromium_major
    grease_name = f"Not{_GREASE_CHARACTERS[seed % 11]}A{_GREASE_CHARACTERS[(seed + 1) % 11]}Brand"
    entries = [(grease_name, _GREASE_VERSIONS[seed % 3]), ("Chromium", str(chromium_major)), (brand, str(brand_major))]
    placed: list[tuple[str, str]] = [("", "")] * 3
    for entry, position in zip(entries, _ORDERS[seed % 6], strict=True):
        placed[position] = entry
    return ", ".join(f'"{name}";v="{version}"' for name, version in placed)


def client_hints(profile: BrowserProfile) -> dict[str, str]:
    """The low-entropy client hints every request of a Chromium-based browser carries (none for the others)."""
    return dict(_client_hints(profile))


@lru_cache(maxsize=256)
def _client_hints(profile: BrowserProfile) -> tuple[tuple[str, str], ...]:
    # Once per profile (profiles are immutable): every im/fetch asks for them.
    brand = _BRANDS.get(profile.family)
    chromium = _CHROMIUM_MAJOR.search(profile.user_agent)
    if brand is None or chromium is None:
        return ()
    brand_major = int(profile.family_version.split(".")[0])
    return (
        ("sec-ch-ua", brand_list(brand, brand_major, int(chromium.group(1)))),
        ("sec-ch-ua-mobile", "?0"),
        ("sec-ch-ua-platform", f'"{_PLATFORMS[profile.os]}"'),
    )


def navigation_headers(profile: BrowserProfile) -> dict[str, str]:
    """Extra headers of a top-level page load (the impersonation's own fetch metadata fits it already)."""
    return client_hints(profile)


def fetch_headers(profile: BrowserProfile, site: Site) -> dict[str, str]:
    """Extra headers of a script's fetch() from a www.tiktok.com page."""
    return {
        **client_hints(profile),
        "Sec-Fetch-Site": site,
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
        # Navigation-only headers the impersonation adds: a fetch never carries them.
        "Upgrade-Insecure-Requests": "",
        "Sec-Fetch-User": "",
    }
