"""`ttsign selftest`: TikTok's own SDK against the native environment, field by field, and the TOML that
makes native agree (which, loaded back, leaves no drift)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.signers.vendor_bundles import bundle, missing

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")


def _selftest(
    *args: str, env: dict[str, str] | None = None, version: str = "5.1.3"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ttsign.cli", "selftest", "--bundle", str(bundle(version)), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def _rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 4:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_default_environment_drifts_only_in_the_shims_environment_bytes(tmp_path: Path) -> None:
    result = _selftest()
    assert result.returncode == 1, result.stderr
    rows = _rows(result.stdout)
    drifted = {name for name, (_, _, verdict) in rows.items() if verdict == "DRIFT"}
    # The SDK in a Node shim sets the "suspicious" envcode bit and hashes the shim's canvas (signatures.md §1);
    # versions, field set, per-page order, widths and the page-load stamp agree with vendor-5.1.3.
    assert drifted == {"envcode", "canvas"}
    assert rows["envcode"][:2] == ["1", "129"]
    assert "envcode = 129" in result.stdout
    # The printed environment, loaded back, makes native agree: no drift, exit 0.
    toml = result.stdout[result.stdout.index("[environments.observed]") :]
    path = tmp_path / "observed.toml"
    path.write_text(toml.split("note:")[0], encoding="utf-8")
    again = _selftest("--env", "observed", env={"TTSIGN_SIGNER_ENV_FILE": str(path)})
    assert again.returncode == 0, again.stdout + again.stderr
    assert "no drift: native (observed)" in again.stdout


def test_the_ztca_environment_drifts_in_versions_order_widths_and_stamp() -> None:
    result = _selftest("--env", "vendor-5.1.3-ztca")
    assert result.returncode == 1
    rows = _rows(result.stdout)
    assert rows["payload_version"] == ["5.1.3-ZTCA", "5.1.3", "DRIFT"]
    assert rows["sdk_build"] == ["1.0.0.368", "1.0.0.328", "DRIFT"]
    assert rows["field_order"] == ["fixed", "shuffled", "DRIFT"]
    assert rows["int_width"] == ["fixed", "minimal", "DRIFT"]
    assert rows["init_stamp"] == ["clock_ms", "page_load_us", "DRIFT"]
    assert rows["fields"][2] == "ok"


@pytest.mark.skipif(missing("2.0.0.485") is not None, reason=missing("2.0.0.485") or "")
def test_the_2_0_0_485_bundle_drifts_from_the_default_environment_in_versions_and_shim_bytes(tmp_path: Path) -> None:
    """The 2.0.0.485 build (its init reads the page's region host; its hook sends on a later tick) signs the
    5.1.3-ZTCA payload under its own build number, yet with the vendor's per-page order, minimal widths and the
    page-load stamp: not the fixed-order variant carcabot's own xgnarly.mjs writes."""
    result = _selftest(version="2.0.0.485")
    assert result.returncode == 1, result.stdout + result.stderr
    rows = _rows(result.stdout)
    assert rows["payload_version"] == ["5.1.3", "5.1.3-ZTCA", "DRIFT"]
    assert rows["sdk_build"] == ["1.0.0.328", "2.0.0.485", "DRIFT"]
    assert rows["envcode"] == ["1", "129", "DRIFT"]
    assert rows["canvas"][0] == "1245783967" and rows["canvas"][2] == "DRIFT"
    for same in ("ubcode", "fields", "field_order", "int_width", "init_stamp"):
        assert rows[same][2] == "ok", (same, rows[same])
    assert "4 field(s) drifted" in result.stdout
    toml = result.stdout[result.stdout.index("[environments.observed]") :]
    for line in (
        'payload_version = "5.1.3-ZTCA"',
        'sdk_build = "2.0.0.485"',
        'field_order = "shuffled"',
        'int_width = "minimal"',
        'init_stamp = "page_load_us"',
        "envcode = 129",
        f"canvas = {rows['canvas'][1]}",
    ):
        assert f"\n{line}\n" in toml, line
    assert "note:" not in result.stdout  # the field set agrees: a file, not a release, follows this build
    path = tmp_path / "observed.toml"
    path.write_text(toml, encoding="utf-8")
    again = _selftest("--env", "observed", env={"TTSIGN_SIGNER_ENV_FILE": str(path)}, version="2.0.0.485")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "no drift: native (observed) signs like webmssdk_2.0.0.485.js" in again.stdout


def test_selftest_without_a_vendor_script_says_what_to_set() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ttsign.cli", "selftest"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "TTSIGN_VENDOR_SCRIPT_PATH"},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: no vendor script to compare with: pass --bundle or set TTSIGN_VENDOR_SCRIPT_PATH"
    )


def test_a_bundle_that_does_not_load_is_a_one_line_error(tmp_path: Path) -> None:
    broken = tmp_path / "webmssdk.js"
    broken.write_text("this is not javascript (", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ttsign.cli", "selftest", "--bundle", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad_bundle" in lines[0] and "does not run" in lines[0]
