"""Every golden vector from the real signers, encoded and decoded byte for byte."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import load_vectors
from ttsign.signing import acrawler, xbogus, xgnarly
from ttsign.signing.sdk_session import Environment, RequestDigest, SdkSession, fields_5_1_0, fields_5_1_1, fields_5_1_3

XBOGUS = load_vectors("xbogus.vendor_sdk_1.0.0.368.json")
XGNARLY = load_vectors("xgnarly.vendor_sdk_5.1.3.json")
LEGACY = load_vectors("xgnarly.legacy_5.1.0_5.1.1.json")
SIGNATURES = load_vectors("signature_legacy_acrawler.json")
FRONTIER = load_vectors("frontiersign.vendor_sdk_5.1.3.json")


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [f"{v['id']}-{v.get('version', '')}" for v in vectors]


@pytest.mark.parametrize("v", XBOGUS, ids=ids(XBOGUS))
def test_x_bogus_encodes_like_the_sdk(v: dict[str, Any]) -> None:
    env = v["env"]
    token = xbogus.encode(
        v["query"],
        v["body"],
        v["user_agent"],
        ts=v["ts"],
        envcode=env["byte1_envcode"],
        ubcode=env["byte2_ubcode"],
        canvas=env["canvas_hash"],
    )
    assert token == v["x_bogus"]


@pytest.mark.parametrize("v", XBOGUS, ids=ids(XBOGUS))
def test_x_bogus_decodes_to_the_recorded_fields(v: dict[str, Any]) -> None:
    decoded = xbogus.decode(v["x_bogus"])
    want = v["decoded"]
    assert decoded.query_hash.hex() == want["query_md5md5_14_15"]
    assert decoded.body_hash.hex() == want["body_md5md5_14_15"]
    assert decoded.ua_hash.hex() == want["ua_hash_14_15"]
    assert decoded.ts == want["ts"] == v["ts"]
    assert decoded.checksum == want["xor"]
    assert (decoded.envcode, decoded.ubcode, decoded.canvas) == (
        v["env"]["byte1_envcode"],
        v["env"]["byte2_ubcode"],
        v["env"]["canvas_hash"],
    )
    match = xbogus.match(decoded, v["query"], v["body"], v["user_agent"])
    assert match.query and match.body and match.user_agent


@pytest.mark.parametrize("v", XGNARLY, ids=ids(XGNARLY))
def test_x_gnarly_5_1_3_built_from_the_request_matches_the_sdk(v: dict[str, Any]) -> None:
    """Only the random material comes from the vector; every request-bound field is computed."""
    rec = {int(k): value for k, value in v["decoded"]["fields"].items()}
    session = SdkSession(tuple(v["decoded"]["field_order"]), rec[8])
    counters = v["counters"]
    fields = fields_5_1_3(
        RequestDigest.of(v["query"], v["body"], v["user_agent"]),
        Environment(rec[1], rec[2], rec[7]),
        session,
        now_ms=v["ts_ms"],
        rand16=rec[14] & 0xFFFF,
        rand32=rec[15],
        requests_total=counters["totalXHRRequests"] + counters["totalFetchRequests"],
        requests_intercepted=counters["interceptedXHRRequests"] + counters["interceptedFetchRequests"],
    )
    assert fields == rec
    key = bytes.fromhex(v["decoded"]["key_hex"])
    assert xgnarly.encode(fields, session.field_order, key) == v["x_gnarly"]


@pytest.mark.parametrize("v", XGNARLY + LEGACY, ids=ids(XGNARLY + LEGACY))
def test_x_gnarly_decodes_to_the_recorded_envelope(v: dict[str, Any]) -> None:
    want = v["decoded"]
    envelope = xgnarly.decode(v["x_gnarly"])
    assert envelope.fields == {int(k): value for k, value in want["fields"].items()}
    assert list(envelope.field_order) == want["field_order"]
    assert {str(k): w for k, w in envelope.field_widths.items()} == want["field_widths"]
    assert envelope.key.hex() == want["key_hex"]
    assert envelope.key_position == want["key_insert_pos"]
    assert envelope.rounds == want["chacha_rounds"]


@pytest.mark.parametrize("v", LEGACY, ids=ids(LEGACY))
def test_legacy_x_gnarly_built_from_the_request_matches_the_tools(v: dict[str, Any]) -> None:
    rec = {int(k): value for k, value in v["decoded"]["fields"].items()}
    builder = fields_5_1_0 if v["version"] == "5.1.0" else fields_5_1_1
    fields = builder(
        RequestDigest.of(v["query"], v["body"], v["user_agent"]), Environment(1, 0, rec[7]), now_ms=v["ts_ms"]
    )
    assert fields == rec
    token = xgnarly.encode(
        fields, v["decoded"]["field_order"], bytes.fromhex(v["decoded"]["key_hex"]), xgnarly.FORMAT_LEGACY
    )
    assert token == v["x_gnarly"]


@pytest.mark.parametrize("v", XGNARLY, ids=ids(XGNARLY))
def test_x_bogus_of_the_same_sdk_call_matches(v: dict[str, Any]) -> None:
    rec = v["decoded"]["fields"]
    token = xbogus.encode(
        v["query"], v["body"], v["user_agent"], ts=v["ts"], envcode=rec["1"], ubcode=rec["2"], canvas=rec["7"]
    )
    assert token == v["x_bogus_same_call"]


@pytest.mark.parametrize("v", SIGNATURES, ids=ids(SIGNATURES))
def test_legacy_signature_matches_and_decodes(v: dict[str, Any]) -> None:
    token = acrawler.sign(v["url"], v["user_agent"], referer=v["referer"], ts=v["ts"], canvas=v["canvas_hash"])
    assert token == v["_signature"]
    decoded = acrawler.verify(v["_signature"], v["url"], v["user_agent"], referer=v["referer"])
    assert (decoded.ts, decoded.canvas) == (v["ts"], v["canvas_hash"])


@pytest.mark.parametrize("v", FRONTIER, ids=ids(FRONTIER))
def test_frontier_sign_outputs_have_the_documented_format(v: dict[str, Any]) -> None:
    token = v["output"]["X-Bogus"]
    assert len(token) == 16
    assert re.fullmatch(r"[A-Za-z0-9+/]{16}", token)
    assert token[0] in "RW"


def test_every_file_holds_every_input() -> None:
    assert len(XBOGUS) == len(XGNARLY) == len(FRONTIER) == 64
    assert len(LEGACY) == 128
    assert len(SIGNATURES) == 63
