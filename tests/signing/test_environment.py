"""Signer environments: the built-ins reproduce the golden vectors, and each policy changes what is signed."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from tests.conftest import load_vectors
from ttsign.signing import VerifyPolicy, chacha, default_profile, sign_request, verify_request, xgnarly
from ttsign.signing import url as urls
from ttsign.signing.environment import (
    BUILTIN_ENVIRONMENTS,
    LEGACY_5_1_0,
    LEGACY_5_1_1,
    VENDOR_5_1_3,
    VENDOR_5_1_3_ZTCA,
    XBOGUS_1_0_0_368,
    EndpointSignatures,
    SignerEnvironment,
)
from ttsign.signing.sdk_session import Environment, RequestDigest, SdkSession

XGNARLY = load_vectors("xgnarly.vendor_sdk_5.1.3.json")
LEGACY = load_vectors("xgnarly.legacy_5.1.0_5.1.1.json")
NOW_MS = 1767225600000
URL = "https://webcast.tiktok.com/webcast/room/info/?aid=1988&room_id=7390000000000000001"


def _recorded(v: dict[str, Any]) -> dict[int, Any]:
    return {int(k): value for k, value in v["decoded"]["fields"].items()}


@pytest.mark.parametrize("v", XGNARLY, ids=[v["id"] for v in XGNARLY])
def test_vendor_environment_reproduces_the_sdk_vectors_byte_for_byte(v: dict[str, Any]) -> None:
    rec = _recorded(v)
    counters = v["counters"]
    total = counters["totalXHRRequests"] + counters["totalFetchRequests"]
    intercepted = counters["interceptedXHRRequests"] + counters["interceptedFetchRequests"]
    # The payload counts the request being signed: a page that has sent total - 1 requests before it.
    session = SdkSession(tuple(v["decoded"]["field_order"]), rec[8], total - 1, intercepted)
    fields = VENDOR_5_1_3.payload(
        RequestDigest.of(v["query"], v["body"], v["user_agent"]),
        Environment(rec[1], rec[2], rec[7]),
        session,
        now_ms=v["ts_ms"],
        rand16=rec[14] & 0xFFFF,
        rand32=rec[15],
    )
    assert fields == rec
    key = bytes.fromhex(v["decoded"]["key_hex"])
    assert xgnarly.encode(fields, session.field_order, key, VENDOR_5_1_3.payload_format) == v["x_gnarly"]


@pytest.mark.parametrize("v", LEGACY, ids=[f"{v['id']}-{v['version']}" for v in LEGACY])
def test_legacy_environments_reproduce_the_tools_vectors(v: dict[str, Any]) -> None:
    env = LEGACY_5_1_0 if v["version"] == "5.1.0" else LEGACY_5_1_1
    profile = env.apply(default_profile())
    values = Environment(profile.envcode, profile.ubcode, profile.canvas)
    session = env.start_session(random.Random(0), v["ts_ms"])
    assert list(session.field_order) == v["decoded"]["field_order"]
    fields = env.payload(
        RequestDigest.of(v["query"], v["body"], v["user_agent"]), values, session, now_ms=v["ts_ms"], rand16=0, rand32=0
    )
    assert fields == _recorded(v)
    key = bytes.fromhex(v["decoded"]["key_hex"])
    assert xgnarly.encode(fields, session.field_order, key, env.payload_format) == v["x_gnarly"]


def _sign(env: SignerEnvironment, url: str = URL, seed: int = 7) -> dict[str, str]:
    signed = sign_request(
        "GET", url, "", default_profile(), now_ms=NOW_MS, rng=random.Random(seed), ms_token="", environment=env
    )
    return signed.tokens | {"url": signed.url}


def test_ztca_environment_writes_the_fixed_order_widths_and_version_strings() -> None:
    envelope = xgnarly.decode(_sign(VENDOR_5_1_3_ZTCA)["X-Gnarly"])
    # carcabot tiktok-signature 4.3.6 xgnarly.mjs: FIELD_ORDER, INT_WIDTHS and the constants it writes.
    assert envelope.field_order == (1, 8, 12, 11, 6, 9, 4, 7, 0, 14, 15, 2, 3, 10, 5, 13)
    int_widths = {k: w for k, w in envelope.field_widths.items() if isinstance(envelope.fields[k], int)}
    assert int_widths == {0: 4, 1: 2, 2: 2, 6: 4, 7: 4, 8: 4, 11: 2, 12: 2, 13: 2, 14: 4, 15: 4}
    assert (envelope.fields[9], envelope.fields[10]) == ("5.1.3-ZTCA", "1.0.0.368")
    assert (envelope.fields[1], envelope.fields[2], envelope.fields[7]) == (65, 4, 3181061566)
    assert envelope.fields[8] == NOW_MS % (1 << 31)
    assert envelope.fields[14] >> 16 == 65


def test_ztca_order_is_the_same_for_every_page_and_the_vendor_order_is_not() -> None:
    ztca = {xgnarly.decode(_sign(VENDOR_5_1_3_ZTCA, seed=s)["X-Gnarly"]).field_order for s in range(5)}
    vendor = {xgnarly.decode(_sign(VENDOR_5_1_3, seed=s)["X-Gnarly"]).field_order for s in range(5)}
    assert len(ztca) == 1 and len(vendor) == 5


def test_vendor_minimal_widths_differ_from_fixed_ones() -> None:
    envelope = xgnarly.decode(_sign(VENDOR_5_1_3)["X-Gnarly"])
    assert envelope.field_widths[1] == 2 and envelope.field_widths[12] == 2
    assert envelope.field_widths[0] == 4  # a large value: 4 bytes under the minimal rule too
    assert (envelope.fields[9], envelope.fields[10]) == ("5.1.3", "1.0.0.328")


@pytest.mark.parametrize("env", list(BUILTIN_ENVIRONMENTS.values()), ids=list(BUILTIN_ENVIRONMENTS))
def test_every_builtin_signs_requests_that_verify(env: SignerEnvironment) -> None:
    profile = default_profile()
    signed = sign_request("GET", URL, "", profile, now_ms=NOW_MS, rng=random.Random(3), ms_token="", environment=env)
    # Browser params are the caller's business (item 6), not the environment's.
    policy = VerifyPolicy(check_browser_params=False, require_x_gnarly="X-Gnarly" in signed.tokens)
    result = verify_request(signed.url, "", profile.user_agent, now_ms=NOW_MS, policy=policy)
    assert result.failures == ()
    assert {c.name for c in result.checks} >= {"x_bogus.query", "ms_token.format"}


def test_xbogus_only_environment_attaches_no_x_gnarly() -> None:
    tokens = _sign(XBOGUS_1_0_0_368)
    assert "X-Gnarly" not in tokens and "X-Gnarly=" not in tokens["url"]
    assert tokens["url"].endswith(f"&X-Bogus={tokens['X-Bogus']}")


def test_endpoint_table_picks_the_longest_prefix_and_falls_back_to_star() -> None:
    env = dataclasses.replace(
        VENDOR_5_1_3,
        endpoint_signatures=(
            EndpointSignatures("*", frozenset({"msToken", "X-Bogus", "X-Gnarly"})),
            EndpointSignatures("/webcast/im/", frozenset({"msToken"})),
            EndpointSignatures("/webcast/im/fetch/", frozenset({"msToken", "X-Bogus"})),
        ),
    )
    fetch = _sign(env, "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=1")
    assert set(fetch) == {"msToken", "X-Bogus", "url"}
    other_im = _sign(env, "https://webcast.tiktok.com/webcast/im/push/?aid=1988")
    assert set(other_im) == {"msToken", "url"} and "X-Bogus" not in other_im["url"]
    assert set(_sign(env)) == {"msToken", "X-Bogus", "X-Gnarly", "url"}


def test_an_environment_without_ms_token_strips_a_stale_one() -> None:
    env = dataclasses.replace(VENDOR_5_1_3, endpoint_signatures=(EndpointSignatures("*", frozenset({"X-Bogus"})),))
    tokens = _sign(env, URL + "&msToken=stale")
    assert urls.find_param(urls.split(tokens["url"]).query, "msToken") is None


def test_fixed_rounds_change_the_cipher_and_decode_only_with_the_same_rounds() -> None:
    env = dataclasses.replace(VENDOR_5_1_3, chacha_rounds=20)
    token = _sign(env)["X-Gnarly"]
    assert xgnarly.decode(token, rounds=20).fields[9] == "5.1.3"
    with pytest.raises(xgnarly.XGnarlyError):
        xgnarly.decode(token)  # key-derived rounds: c001's key does not derive 20 for seed 7


def test_a_session_of_another_shape_is_replaced_not_misused() -> None:
    vendor_page = SdkSession.start(random.Random(1), NOW_MS)
    signed = sign_request(
        "GET",
        URL,
        "",
        default_profile(),
        now_ms=NOW_MS,
        rng=random.Random(1),
        session=vendor_page,
        environment=LEGACY_5_1_0,
    )
    assert xgnarly.decode(signed.tokens["X-Gnarly"]).field_order == tuple(range(10))


def test_default_profile_must_be_one_of_the_profiles() -> None:
    with pytest.raises(ValueError, match="default_profile"):
        dataclasses.replace(VENDOR_5_1_3, default_profile="nope")


SHAPES = [
    *(env for env in BUILTIN_ENVIRONMENTS.values() if "X-Gnarly" in env.signatures_for("/webcast/")),
    dataclasses.replace(VENDOR_5_1_3_ZTCA, name="rounds-9", chacha_rounds=9),
]


@pytest.mark.skipif(xgnarly.native_token is None, reason="the compiled X-Gnarly path was not built")
@pytest.mark.parametrize("env", SHAPES, ids=[e.name for e in SHAPES])
def test_compiled_and_pure_python_paths_agree_for_every_shape(
    env: SignerEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = [_sign(env, seed=s)["X-Gnarly"] for s in range(8)]
    monkeypatch.setattr(xgnarly, "native_token", None)
    monkeypatch.setattr(chacha, "native_keystream", None)
    assert [_sign(env, seed=s)["X-Gnarly"] for s in range(8)] == compiled


@pytest.mark.skipif(xgnarly.native_token is None, reason="the compiled X-Gnarly path was not built")
def test_a_fixed_two_byte_width_keeps_the_low_bytes_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = xgnarly.PayloadFormat("x", 1 << 16, ((1, 2), (2, 4)))
    fields: dict[int, xgnarly.FieldValue] = {1: 0x12345, 2: 7}
    key = bytes(range(48))
    compiled = xgnarly.encode(fields, (1, 2), key, fmt)
    monkeypatch.setattr(xgnarly, "native_token", None)
    assert xgnarly.encode(fields, (1, 2), key, fmt) == compiled
    envelope = xgnarly.decode(compiled)
    assert envelope.fields == {1: 0x2345, 2: 7} and envelope.field_widths == {1: 2, 2: 4}


def test_a_payload_format_refuses_a_width_other_than_2_or_4() -> None:
    with pytest.raises(ValueError, match="2 or 4"):
        xgnarly.PayloadFormat("x", 1 << 16, ((1, 3),))


def test_endpoint_overrides_replace_the_tables_entry_and_leave_the_rest() -> None:
    overridden = VENDOR_5_1_3.with_endpoint_signatures({"/webcast/im/fetch/": frozenset()})
    assert overridden.signatures_for("/webcast/im/fetch/") == frozenset()
    assert overridden.signatures_for("/webcast/room/chat/") == VENDOR_5_1_3.signatures_for("/webcast/room/chat/")
    fetch = _sign(overridden, "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=1")
    assert set(fetch) == {"url"} and "X-Bogus" not in fetch["url"] and "msToken" not in fetch["url"]
    # An override of the `*` entry replaces it rather than adding a second fallback.
    star = VENDOR_5_1_3.with_endpoint_signatures({"*": frozenset({"X-Bogus"})})
    assert [e.path_prefix for e in star.endpoint_signatures] == ["*"]
    assert star.signatures_for("/webcast/room/chat/") == {"X-Bogus"}
    assert VENDOR_5_1_3.with_endpoint_signatures({}) is VENDOR_5_1_3
