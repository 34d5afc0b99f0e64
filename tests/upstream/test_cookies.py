"""Per-identity cookies, parsed from Set-Cookie by hand."""

from __future__ import annotations

from ttsign.upstream.cookies import CookieJar, parse_set_cookie


def test_parse_keeps_value_and_drops_attributes() -> None:
    parsed = parse_set_cookie(
        "ttwid=1%7Cabc%7C1700000000%7Cdef; Path=/; Domain=.tiktok.com; Max-Age=31536000; HttpOnly"
    )
    assert parsed is not None
    assert (parsed.name, parsed.value, parsed.deletes) == ("ttwid", "1%7Cabc%7C1700000000%7Cdef", False)


def test_parse_handles_expires_with_comma_and_quotes() -> None:
    parsed = parse_set_cookie('msToken="abc-_=="; expires=Wed, 21 Oct 2026 07:28:00 GMT; secure')
    assert parsed is not None and parsed.value == "abc-_=="


def test_parse_rejects_garbage() -> None:
    assert parse_set_cookie("novalue") is None
    assert parse_set_cookie("=v") is None
    assert parse_set_cookie("a b=c") is None


def test_deletion_by_max_age_or_empty_value() -> None:
    deleting = parse_set_cookie("ttwid=x; Max-Age=0")
    assert deleting is not None and deleting.deletes
    assert parse_set_cookie("ttwid=; Path=/").deletes  # type: ignore[union-attr]


def test_jar_ignores_domain_and_keeps_order() -> None:
    jar = CookieJar()
    changed = jar.update_from(["ttwid=T; Domain=.tiktok.com", "msToken=M; Domain=.tiktok.com", "junk"])
    assert changed == ["ttwid", "msToken"]
    assert jar.header() == "ttwid=T; msToken=M"
    assert jar.update_from(["ttwid=T"]) == []  # same value is no change
    jar.update_from(["msToken=N", "ttwid=; Max-Age=0"])
    assert jar.header() == "msToken=N"
    assert jar.get("ttwid") is None


def test_repr_never_shows_values() -> None:
    jar = CookieJar({"sessionid": "secret-value"})
    assert "secret-value" not in repr(jar)
    assert "sessionid" in repr(jar)
