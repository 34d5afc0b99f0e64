"""service/legacy_fetch.py, the pure parts: which URLs are Node 1.x's im/fetch, the socket's browser, tickets."""

from __future__ import annotations

import pytest

from ttsign.service.legacy_fetch import (
    TICKET_LIFETIME_S,
    FetchTicket,
    im_fetch_room,
    issue_ticket,
    socket_user_agent,
    ticket_expiry,
)

SECRET = b"s" * 32
FIELDS = FetchTicket("7390000000000000001", "key:k1", "Mozilla/5.0 (X11; Linux x86_64)")


@pytest.mark.parametrize(
    ("url", "room"),
    [
        ("https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=7390000000000000001", "7390000000000000001"),
        ("https://webcast.tiktok.com/webcast/im/fetch?room_id=42", "42"),
        ("https://webcast.tiktok.com/webcast/im/fetch/?aid=1988", None),  # no room
        ("https://webcast.tiktok.com/webcast/im/fetch/?room_id=0", None),
        ("https://webcast.tiktok.com/webcast/im/fetch/?room_id=abc", None),
        ("https://webcast.tiktok.com/webcast/gift/list/?room_id=42", None),
        ("https://webcast.tiktok.com/webcast/room/info/?room_id=42", None),
    ],
)
def test_im_fetch_room(url: str, room: str | None) -> None:
    assert im_fetch_room(url) == room


@pytest.mark.parametrize(
    ("query", "user_agent"),
    [
        ("browser_name=Mozilla&browser_version=5.0%20(X11%3B%20Linux)", "Mozilla/5.0 (X11; Linux)"),
        ("browser_name=Mozilla&browser_version=5.0+%28Windows%29", "Mozilla/5.0 (Windows)"),
        ("browser_version=5.0%20(X11)", ""),  # navigator.appName is always Mozilla; anything else is not a browser's
        ("browser_name=Mozilla", ""),
        ("browser_name=Netscape&browser_version=5.0", ""),
        (f"browser_name=Mozilla&browser_version={'x' * 401}", ""),
    ],
)
def test_socket_user_agent_is_what_the_query_names(query: str, user_agent: str) -> None:
    assert socket_user_agent(f"https://webcast.tiktok.com/webcast/im/fetch/?{query}") == user_agent


def test_a_fresh_ticket_is_good_until_its_lifetime_ends() -> None:
    ticket = issue_ticket(SECRET, FIELDS, 1_000)
    assert ticket_expiry(SECRET, FIELDS, ticket, 1_000) == 1_000 + TICKET_LIFETIME_S
    assert ticket_expiry(SECRET, FIELDS, ticket, 1_000 + TICKET_LIFETIME_S) == 1_000 + TICKET_LIFETIME_S
    assert ticket_expiry(SECRET, FIELDS, ticket, 1_001 + TICKET_LIFETIME_S) is None
    assert ticket_expiry(SECRET, FIELDS, ticket, 999) is None  # issued in the future: not ours


@pytest.mark.parametrize(
    "other",
    [
        FetchTicket("7390000000000000002", FIELDS.caller, FIELDS.user_agent),
        FetchTicket(FIELDS.room_id, "key:k2", FIELDS.user_agent),
        FetchTicket(FIELDS.room_id, FIELDS.caller, "Mozilla/5.0 (Windows)"),
    ],
)
def test_a_ticket_names_one_room_caller_and_browser(other: FetchTicket) -> None:
    assert ticket_expiry(SECRET, other, issue_ticket(SECRET, FIELDS, 1_000), 1_000) is None


@pytest.mark.parametrize("ticket", ["", "1000", "1000.", "abc.def", "1" * 13 + ".x", "-5.abc"])
def test_malformed_tickets_are_refused(ticket: str) -> None:
    assert ticket_expiry(SECRET, FIELDS, ticket, 1_000) is None


def test_another_secrets_ticket_is_refused() -> None:
    assert ticket_expiry(b"t" * 32, FIELDS, issue_ticket(SECRET, FIELDS, 1_000), 1_000) is None
