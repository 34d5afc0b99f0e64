"""The consumer's query (relay/options.py): Euler's uniqueId/apiKey/jwtKey and features.* flags."""

from __future__ import annotations

import pytest

from ttsign.relay.options import ConsumerOptions, Features, InvalidOptions, parse_options


def parse(**params: str) -> ConsumerOptions | InvalidOptions:
    return parse_options(list(params.items()))


def test_defaults_are_eulers() -> None:
    options = parse(uniqueId="emu_streamer", apiKey="k")
    assert options == ConsumerOptions("emu_streamer", api_key="k", features=Features())
    assert Features().as_json()["closeInactiveWebSocketAfter"] == 60
    assert "k" not in repr(options)


def test_flags_are_read() -> None:
    options = parse_options(
        [
            ("uniqueId", "@emu_streamer"),
            ("features.bundleEvents", "false"),
            ("features.rawMessages", "1"),
            ("features.closeInactiveWebSocketAfter", "30"),
            ("features.useEnterpriseApi", "true"),
            ("features.schemaVersion", "v2"),
        ]
    )
    assert isinstance(options, ConsumerOptions)
    assert options.unique_id == "emu_streamer"
    assert options.features == Features(bundle_events=False, raw_messages=True, close_inactive_after_s=30)


def test_unique_id_forms_are_normalised_unless_switched_off() -> None:
    url = "https://www.tiktok.com/@emu_streamer/live"
    assert parse(uniqueId=url) == ConsumerOptions("emu_streamer")
    refused = parse_options([("uniqueId", "@emu"), ("features.normalizeUniqueId", "false")])
    assert isinstance(refused, InvalidOptions)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "uniqueId"),
        ({"uniqueId": "a b"}, "uniqueId"),
        ({"uniqueId": "x", "features.bogus": "1"}, "unknown option features.bogus"),
        ({"uniqueId": "x", "features.bundleEvents": "yes"}, "true, false"),
        ({"uniqueId": "x", "features.closeInactiveWebSocketAfter": "5"}, "30 to 3600"),
        ({"uniqueId": "x", "features.closeInactiveWebSocketAfter": "-40"}, "30 to 3600"),
        ({"uniqueId": "x", "features.schemaVersion": "v1"}, "only v2"),
        ({"uniqueId": "x", "features.syntheticPresence": "true"}, "not offered"),
        ({"uniqueId": "x", "apiKey": "a", "jwtKey": "b"}, "not both"),
    ],
)
def test_bad_options_are_refused_with_a_reason(params: dict[str, str], fragment: str) -> None:
    outcome = parse(**params)
    assert isinstance(outcome, InvalidOptions)
    assert fragment in outcome.message


def test_a_repeated_option_is_refused() -> None:
    assert isinstance(parse_options([("uniqueId", "a"), ("uniqueId", "b")]), InvalidOptions)


def test_the_sdks_null_credential_is_no_credential() -> None:
    assert parse(uniqueId="x", jwtKey="null", apiKey="k") == ConsumerOptions("x", api_key="k")
