"""`ttsign verify` passes on exactly what `ttsign sign` printed (issue 13 item 6), README example included."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _ttsign(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ttsign.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def readme_sign_example() -> str:
    """The URL of the README's `ttsign sign '...'` example line."""
    found = re.search(r"ttsign sign '([^']+)'", README.read_text(encoding="utf-8"))
    assert found, "the README has a `ttsign sign 'URL'` example"
    return found.group(1)


def _sign_and_verify(*sign_args: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    signed = _ttsign("sign", *sign_args)
    assert signed.returncode == 0, signed.stderr
    url, ua_line = signed.stdout.strip().splitlines()
    return url, _ttsign("verify", url, "--ua", ua_line.removeprefix("User-Agent: "))


def test_the_readme_example_signed_then_verified_passes_every_check() -> None:
    example = readme_sign_example()
    assert "browser_name" not in example  # the case that used to fail: the URL names no browser
    url, verified = _sign_and_verify(example)
    assert verified.returncode == 0, verified.stdout
    assert "browser.browser_name" in verified.stdout and "all checks passed" in verified.stdout
    assert "&browser_name=Mozilla&browser_version=5.0%20%28Windows" in url


@pytest.mark.parametrize(
    "extra",
    [
        ["--ua", FIREFOX],
        ["--profile", "safari18-mac"],
        ["--env", "vendor-5.1.3-ztca"],
        ["--env", "legacy-5.1.1"],
    ],
)
def test_sign_output_verifies_for_other_browsers_and_environments(extra: list[str]) -> None:
    _, verified = _sign_and_verify(readme_sign_example(), *extra)
    assert verified.returncode == 0, verified.stdout


def test_browser_params_that_disagree_with_the_ua_are_rewritten_in_place() -> None:
    wrong = "https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&browser_name=Netscape&browser_version=4.0&room_id=1"
    url, verified = _sign_and_verify(wrong, "--ua", FIREFOX)
    assert verified.returncode == 0, verified.stdout
    assert "?aid=1988&browser_name=Mozilla&browser_version=5.0%20%28Windows%29&room_id=1&msToken=" in url
