"""The ttsign command line as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import VECTORS
from ttsign.signing import default_profile, verify_request

IM_FETCH = (
    "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id=7390000000000000001&cursor="
    f"&browser_name=Mozilla&browser_version={quote(default_profile().browser_version, safe='')}"
)


def ttsign(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ttsign.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_sign_prints_a_url_that_verifies_with_the_printed_user_agent() -> None:
    result = ttsign("sign", IM_FETCH)
    assert result.returncode == 0, result.stderr
    url, ua_line = result.stdout.strip().splitlines()
    assert ua_line == f"User-Agent: {default_profile().user_agent}"
    assert "&msToken=" in url and "&X-Bogus=" in url and "&X-Gnarly=" in url
    assert verify_request(url, "", ua_line.removeprefix("User-Agent: "), now_ms=time.time_ns() // 10**6).ok


def test_sign_json_reports_every_token_and_header_for_a_post() -> None:
    ua = default_profile("firefox133-windows").user_agent
    result = ttsign("sign", IM_FETCH, "--ua", ua, "--method", "POST", "--body", "content=hi", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["tokens"]) == {"msToken", "X-Bogus", "X-Gnarly"}
    assert data["request_headers"]["User-Agent"] == ua
    assert data["browser_version"] == "5.0 (Windows)"
    assert data["method"] == "POST"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sign", "not a url"], "not an http(s) URL"),
        (["sign", "https://example.com/webcast/im/fetch/?a=1"], "not a TikTok webcast host"),
        (["sign", "https://www.tiktok.com/login"], "not signable"),
        (["sign", IM_FETCH, "--ua", "curl/8.0"], "User-Agent"),
        (["sign", IM_FETCH, "--profile", "nope"], "unknown profile"),
        (["sign", IM_FETCH, "--ms-token", "short"], "msToken"),
        (["sign", IM_FETCH, "--method", "BREW"], "unsupported HTTP method"),
        (["vectors", "check", "/nonexistent/file.json"], "cannot read"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = ttsign(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_verify_reports_each_check_and_fails_on_a_tampered_url() -> None:
    signed = ttsign("sign", IM_FETCH).stdout.splitlines()[0]
    ua = default_profile().user_agent
    good = ttsign("verify", signed, "--ua", ua)
    assert good.returncode == 0, good.stdout
    assert "x_gnarly.query" in good.stdout and "all checks passed" in good.stdout
    bad = ttsign("verify", signed.replace("room_id=739", "room_id=738"), "--ua", ua)
    assert bad.returncode == 1
    assert "FAIL" in bad.stdout and "check(s) failed" in bad.stdout


def test_vectors_check_passes_every_golden_vector() -> None:
    result = ttsign("vectors", "check", *sorted(str(p) for p in VECTORS.glob("*.json")))
    assert result.returncode == 0, result.stdout[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "383 passed, 0 failed, 0 skipped"


def test_vectors_check_reports_a_broken_vector(tmp_path: Path) -> None:
    data = json.loads((VECTORS / "xbogus.vendor_sdk_1.0.0.368.json").read_text())
    data["vectors"][3]["x_bogus"] = "DFSzs5VOgGJANcccCmht-CoHQwsA"
    data["vectors"][5]["query"] += "&extra=1"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    result = ttsign("vectors", "check", str(broken))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "62 passed, 2 failed, 0 skipped"
    failing = [line for line in lines if line.startswith("FAIL")]
    assert len(failing) == 2 and data["vectors"][3]["id"] in failing[0] and data["vectors"][5]["id"] in failing[1]


def test_vectors_marked_error_are_signed_by_ttsign_and_cross_checked(tmp_path: Path) -> None:
    """A peer that failed on an input leaves no expected output: ttsign signs it and checks it elsewhere."""
    data = json.loads((VECTORS / "xbogus.vendor_sdk_1.0.0.368.json").read_text())
    for v in data["vectors"][:3]:
        del v["x_bogus"], v["decoded"]
        v["error"] = "peer failed"
    peer = tmp_path / "peer.json"
    peer.write_text(json.dumps(data))
    other = VECTORS / "xgnarly.vendor_sdk_5.1.3.json"  # carries x_bogus_same_call for the same ids
    ok = ttsign("vectors", "check", str(peer), str(other))
    assert ok.returncode == 0, ok.stdout[-1500:]
    # Break the cross-reference: the ttsign-signed outputs for those ids must now disagree.
    gn = json.loads(other.read_text())
    for v in gn["vectors"][:3]:
        v["x_bogus_same_call"] = "DFSzs5VOgGJANcccCmht-CoHQwsA"
    other_broken = tmp_path / "gn.json"
    other_broken.write_text(json.dumps(gn))
    bad = ttsign("vectors", "check", str(peer), str(other_broken))
    assert bad.returncode == 1


def test_bench_signing_json_reports_each_signature() -> None:
    result = ttsign("bench", "signing", "--json", "--runs", "1", "--seconds", "0.05")
    assert result.returncode == 0, result.stderr
    names = {row["signature"] for row in json.loads(result.stdout)}
    assert {"X-Bogus", "X-Gnarly (pure Python)", "_signature"} <= names


def test_keys_lifecycle_with_the_plaintext_shown_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "keys.sqlite3"
    monkeypatch.setenv("TTSIGN_STORE_PATH", str(store))
    created = ttsign("keys", "create", "--name", "overlay", "--per-minute", "5", "--chat")
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    key, key_id = record["api_key"], record["key_id"]
    assert key.startswith("tts_") and record["limits"] == {"per_minute": 5} and record["chat_enabled"] is True
    listed = ttsign("keys", "list")
    assert key_id in listed.stdout and key not in listed.stdout
    assert key not in ttsign("keys", "show", key_id).stdout
    changed = json.loads(ttsign("keys", "set-limits", key_id, "--per-day", "100", "--no-chat").stdout)
    # set-limits changes the window given; the others keep their value (issue 12 item 11)
    assert changed["limits"] == {"per_minute": 5, "per_day": 100} and changed["chat_enabled"] is False
    assert json.loads(ttsign("keys", "revoke", key_id).stdout)["revoked"] is True
    assert key.split("_", 2)[2].encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
    missing = ttsign("keys", "revoke", "nope")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"store: sqlite:{store}", "error: no key with id nope"]


def test_version_prints_the_package_version() -> None:
    from ttsign import __version__

    result = ttsign("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"ttsign {__version__}"


def test_bench_shows_progress_on_stderr_and_keeps_stdout_json() -> None:
    from ttsign import benchmark

    result = ttsign("bench", "signing", "--json", "--runs", "2", "--seconds", "0.05")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # the progress bar never mixes into the JSON
    total = benchmark.planned_runs(2)
    assert "signing benchmark" in result.stderr and f"{total}/{total}" in result.stderr


def test_an_unknown_ttsign_variable_is_named_in_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTSIGN_PROT", "9000")  # a typo of TTSIGN_PORT
    monkeypatch.setenv("TTSIGN_LOG_LEVEL", "INFO")  # a real setting: no warning
    result = ttsign("sign", IM_FETCH)
    assert result.returncode == 0, result.stderr
    assert "warning: TTSIGN_PROT is not a ttsign setting" in result.stderr
    assert "9000" not in result.stderr and "TTSIGN_LOG_LEVEL" not in result.stderr
