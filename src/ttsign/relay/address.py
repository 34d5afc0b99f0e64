"""The push socket's URL, from a first fetch result (pure).

A client appends its own query to `push_server`: the route params first, then the web player's defaults,
room id, cursor and compression (webcast-protocol.md §4.1). The `direct` strategy's route params already
hold the page's whole signed query, so the defaults only fill what is missing; a fetch result from im/fetch
carries a few route params (`wrss`) and the defaults supply the rest, with the browser values of the
identity's profile (the push server refuses a query without them, or with values its User-Agent contradicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from ttsign.relay.frames import FetchStart

_PLAYER_DEFAULTS: tuple[tuple[str, str], ...] = (
    ("aid", "1988"),
    ("app_name", "tiktok_web"),
    ("device_platform", "web"),
    ("identity", "audience"),
    ("live_id", "12"),
    ("did_rule", "3"),
    ("client_enter", "1"),
    ("sup_ws_ds_opt", "1"),
    ("update_version_code", "2.0.0"),
    ("resp_content_type", "protobuf"),
    ("heartbeat_duration", "10000"),
    ("version_code", "270000"),
)


def socket_url(start: FetchStart, room_id: str, browser: Mapping[str, str]) -> str:
    """`browser`: the profile's browser query (BrowserProfile.browser_query), as the identity's UA shows it."""
    params = list(start.route_params)
    present = {name for name, _ in params}
    wanted = (
        *_PLAYER_DEFAULTS,
        *browser.items(),
        ("room_id", room_id),
        ("cursor", start.cursor),
        ("internal_ext", start.internal_ext),
        ("compress", "gzip"),
    )
    params += [(name, value) for name, value in wanted if name not in present and value]
    query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params)
    separator = "&" if "?" in start.push_server else "?"
    return f"{start.push_server}{separator}{query}"
