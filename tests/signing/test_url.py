"""The vendor SDK's URL rules: what gets encoded, appended and left out of the signed string."""

from __future__ import annotations

import random

from ttsign.signing import default_profile, sign_request
from ttsign.signing import url as urls
from ttsign.signing.signer import prepare_url


def test_raw_unicode_url_is_percent_encoded_like_encode_uri() -> None:
    raw = "https://www.tiktok.com/api-live/user/room/?uniqueId=日本語&nickname=café&x=a b"
    assert urls.normalize(raw) == (
        "https://www.tiktok.com/api-live/user/room/?uniqueId=%E6%97%A5%E6%9C%AC%E8%AA%9E&nickname=caf%C3%A9&x=a%20b"
    )


def test_already_encoded_url_is_left_byte_for_byte() -> None:
    encoded = "https://webcast.tiktok.com/webcast/x/?q=a+b%20c&n=caf%C3%A9&t=%2F"
    assert urls.normalize(encoded) == encoded


def test_encode_uri_keeps_its_reserved_characters() -> None:
    url = "https://webcast.tiktok.com/webcast/x/?a=1;b=2,c=@:$&d=!*()~-_."
    assert urls.normalize(url) == url


def test_apostrophe_in_the_query_becomes_percent_27() -> None:
    assert (
        urls.normalize("https://webcast.tiktok.com/webcast/x/?q=it's")
        == "https://webcast.tiktok.com/webcast/x/?q=it%27s"
    )


def test_stray_percent_is_not_re_encoded() -> None:
    # decodeURIComponent would throw, so the SDK keeps the URL as it is.
    url = "https://webcast.tiktok.com/webcast/x/?q=100%"
    assert urls.normalize(url) == url


def test_ms_token_is_appended_last_even_when_empty() -> None:
    assert (
        prepare_url("https://webcast.tiktok.com/webcast/x/?a=1", "")
        == "https://webcast.tiktok.com/webcast/x/?a=1&msToken="
    )
    assert (
        prepare_url("https://webcast.tiktok.com/webcast/x/", "T") == "https://webcast.tiktok.com/webcast/x/?msToken=T"
    )


def test_stale_signatures_are_dropped_and_a_stale_token_reused() -> None:
    url = "https://webcast.tiktok.com/webcast/x/?a=1&msToken=OLD&X-Bogus=B&b=2&X-Gnarly=G&_signature=S"
    assert prepare_url(url, "") == "https://webcast.tiktok.com/webcast/x/?a=1&b=2&msToken=OLD"
    assert prepare_url(url, "NEW") == "https://webcast.tiktok.com/webcast/x/?a=1&b=2&msToken=NEW"


def test_x_tts_oec_bsid_is_left_out_of_the_signed_string_only() -> None:
    assert urls.signed_string("aid=1988&X-Tts-Oec-Bsid=abc&room_id=1") == "aid=1988&room_id=1"
    assert urls.signed_string("X-Tts-Oec-Bsid=1&a=2&X-Tts-Oec-Bsid=3") == "X-Tts-Oec-Bsid=1&a=2"


def test_signatures_are_appended_after_ms_token_in_order_and_sent_url_keeps_bsid() -> None:
    signed = sign_request(
        "GET",
        "https://webcast.tiktok.com/webcast/x/?aid=1988&X-Tts-Oec-Bsid=abc&room_id=1",
        "",
        default_profile(),
        now_ms=1_767_225_600_000,
        rng=random.Random(1),
        ms_token="T" * 148,
    )
    names = [pair.split("=", 1)[0] for pair in urls.split(signed.url).query.split("&")]
    assert names == ["aid", "X-Tts-Oec-Bsid", "room_id", "msToken", "X-Bogus", "X-Gnarly"]
    assert signed.tokens["msToken"] == "T" * 148
    assert signed.headers["User-Agent"] == default_profile().user_agent


def test_trailing_ampersand_and_duplicates_are_kept() -> None:
    assert urls.strip_params("a=1&a=2&X-Bogus=x&", frozenset({"X-Bogus"})) == "a=1&a=2&"
    assert urls.find_param("a=1&a=2", "a") == "2"


def test_browser_params_with_plus_for_space_verify() -> None:
    profile = default_profile()
    version = profile.browser_version.replace(" ", "+").replace("(", "%28").replace(")", "%29").replace(";", "%3B")
    url = f"https://webcast.tiktok.com/webcast/x/?aid=1988&browser_name=Mozilla&browser_version={version}"
    signed = sign_request("GET", url, "", profile, now_ms=1_767_225_600_000, rng=random.Random(2), ms_token="A" * 148)
    from ttsign.signing import verify_request

    assert verify_request(signed.url, "", profile.user_agent, now_ms=1_767_225_600_000).ok
