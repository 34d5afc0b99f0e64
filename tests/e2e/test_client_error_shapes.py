"""How each real client of issue 4's matrix reacts to a sign-server error (spec sign-api.md §8), shown now.

A test-only sign stand-in (sign_stand_in.py --reply) answers every sign route with one canned error; the
emulator serves TikTok. These tests pin down the error shapes ttsign serve must send so that each client raises
its own error with the retry time, and the client-side limits no server can get around. Each client is skipped
only when it is not installed (scripts/e2e-deps.sh).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.harness import ClientRun, EmulatorHandle
from tests.e2e.legacy_clients import (
    CLIENTS_ALL,
    client_missing,
    run_client,
    run_node,
    run_python_sign_url,
    start_sign_stand_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

RETRY_S = 37
# Node's formatSignServerMessage repeats "-" (len(message) - 19) / 2 times: a shorter message is a RangeError.
LONG_MESSAGE = "Too many connections started"
RATE_LIMITED = {
    "status": 429,
    "body": {"code": 429, "message": LONG_MESSAGE, "limit_label": "minute"},
    "headers": {
        "Retry-After": str(RETRY_S),
        # Python 6.5-7.x print RateLimit-Remaining as "try again in %s seconds" (and int() it: required).
        "RateLimit-Remaining": str(RETRY_S),
        "RateLimit-Reset": str(RETRY_S),
        "X-RateLimit-Reset": "1790000000",
    },
}

SignStandIn = Callable[[dict[str, Any]], str]


@pytest.fixture
def sign_stand_in() -> Iterator[SignStandIn]:
    started = []

    def start(reply: dict[str, Any]) -> str:
        proc = start_sign_stand_in(reply)
        started.append(proc)
        return str(proc.ready["url"])

    yield start
    for proc in started:
        assert proc.stop() == 0, proc.stderr_text()


@pytest.fixture
def tiktok(emulator: Callable[..., EmulatorHandle], default_scenario: dict[str, Any]) -> EmulatorHandle:
    return emulator(default_scenario)


def connect(client: str, tiktok: EmulatorHandle, sign: str) -> ClientRun:
    reason = client_missing(client)
    if reason:
        pytest.skip(reason)
    run = run_client(client, tiktok.url, sign, tls_url=tiktok.tls_url)
    assert run.returncode == 3, (run.outcome, run.stderr[-2000:])
    assert not [e for e in tiktok.log() if e["kind"].startswith("ws_")], "no WebSocket after a sign error"
    return run


# What each client raises on the recommended 429, and the text that shows the retry time (or the limit label).
RATE_LIMIT_OUTCOMES = {
    "py-7.0.1": ("SignatureRateLimitError", f"(minute) Too many connections started, try again in {RETRY_S} seconds"),
    "py-6.6.6": ("SignatureRateLimitError", f"(minute) Too many connections started, try again in {RETRY_S} seconds"),
    "py-5.0.8": ("SignatureRateLimitReached", f"Try again in {RETRY_S} seconds"),
    "node-2.5.0": ("SignatureRateLimitError", "(minute) Too many connections started"),  # retryAfter = 37000 ms
    # 2.3.0-beta1 builds its SignatureRateLimitError from response.data instead of the response, so reading
    # its headers throws: no server reply can make it raise its own rate-limit error (client bug).
    "node-2.3.0-beta1": ("TypeError", "reading 'retry-after'"),
    # 1.x has no rate-limit error; axios refuses the 429 and the provider reports a SignatureError.
    "node-1.2.3": ("SignatureError", "status code 429"),
}


@pytest.mark.parametrize("client", CLIENTS_ALL)
def test_rate_limit_reply_raises_each_clients_own_error(client, tiktok, sign_stand_in) -> None:
    run = connect(client, tiktok, sign_stand_in(RATE_LIMITED))
    error, text = RATE_LIMIT_OUTCOMES[client]
    assert run.outcome["error"] == error
    assert text in run.outcome["message"]
    if error == "SignatureRateLimitError":
        assert LONG_MESSAGE in run.outcome["message"], "the server's message is shown to the user"


@pytest.mark.parametrize("client", ["py-7.0.1", "py-6.6.6"])
def test_python_needs_an_integer_ratelimit_remaining_on_429(client, tiktok, sign_stand_in) -> None:
    headers = {k: v for k, v in RATE_LIMITED["headers"].items() if k != "RateLimit-Remaining"}
    run = connect(client, tiktok, sign_stand_in({**RATE_LIMITED, "headers": headers}))
    assert run.outcome["error"] == "TypeError"  # int(None) inside SignatureRateLimitError


def test_node_crashes_on_a_sign_server_message_under_19_characters(tiktok, sign_stand_in) -> None:
    short = {**RATE_LIMITED, "body": {"code": 429, "message": "Slow down", "limit_label": "minute"}}
    run = connect("node-2.5.0", tiktok, sign_stand_in(short))
    assert (run.outcome["error"], run.outcome["message"]) == ("RangeError", "Invalid count value: -5")


# Auth failures (401) per client: test_client_versions_through_server.py::test_revoked_key_gets_each_clients_auth_error.


@pytest.mark.parametrize(
    ("message", "error"),
    [("Premium feature", "RangeError"), ("This route needs a paid plan key", "PremiumFeatureError")],
)
def test_node_402_is_a_premium_error_only_with_a_long_message(message, error, tiktok, sign_stand_in) -> None:
    run = connect("node-2.5.0", tiktok, sign_stand_in({"status": 402, "body": {"code": 402, "message": message}}))
    assert run.outcome["error"] == error


# sign_url denials: the clients disagree (spec §4.3). Python reads the body's code only on HTTP 200; Node reads
# the HTTP status only. A server can satisfy both by keying on the `client` query param each one sends
# (TikTokLive 6.6.6/7.x: client=ttlive-other, tiktok-live-connector 2.x: client=ttlive-node).
DENIAL = "Signing this URL needs a paid plan key"
SIGN_DENIALS = {
    ("py-7.0.1", 200): "PremiumEndpointError",
    ("py-7.0.1", 403): "UnexpectedSignatureError",
    ("node-2.5.0", 200): "SignatureMissingTokensError",
    ("node-2.5.0", 403): "PremiumFeatureError",
    ("node-2.3.0-beta1", 200): "SignatureMissingTokensError",
    ("node-2.3.0-beta1", 403): "PremiumFeatureError",
}


@pytest.mark.parametrize(("client", "status"), sorted(SIGN_DENIALS))
def test_sign_url_denial(client, status, tiktok, sign_stand_in) -> None:
    reason = client_missing(client)
    if reason:
        pytest.skip(reason)
    # "response": {} keeps TTLC 2.0/2.1, which read response.tokens before the status, from a TypeError.
    sign = sign_stand_in({"status": status, "body": {"code": 403, "message": DENIAL, "response": {}}})
    if client == "py-7.0.1":
        run = run_python_sign_url(tiktok.url, sign)
    else:
        script = "sign_gift_list.mjs" if client == "node-2.5.0" else "sign_url.mjs"
        run = run_node(client.split("-", 1)[1], tiktok.url, sign, script=script, tls_url=tiktok.tls_url)
    assert (run.returncode, run.outcome["error"]) == (3, SIGN_DENIALS[(client, status)])
    if run.outcome["error"] in ("PremiumEndpointError", "PremiumFeatureError"):
        assert DENIAL in run.outcome["message"]
    assert run.events == [], "nothing was signed"
