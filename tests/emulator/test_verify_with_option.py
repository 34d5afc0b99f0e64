"""`ttsign emulate --verify-with`: bad choices are clear errors, and the emulator stays out of the server's layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ttsign.cli import app


def test_an_unknown_reference_is_refused_by_name() -> None:
    result = CliRunner().invoke(app, ["emulate", "--verify-with", "remote"])
    assert result.exit_code == 2
    assert "--verify-with must be native or vendor-script, not 'remote'" in result.output


def test_vendor_script_verification_needs_a_readable_bundle(tmp_path: Path) -> None:
    for extra in ([], ["--vendor-script", str(tmp_path / "absent.js")]):
        result = CliRunner().invoke(app, ["emulate", "--verify-with", "vendor-script", *extra])
        assert result.exit_code == 2
        assert "needs --vendor-script PATH to TikTok's webmssdk.js" in result.output


def test_the_emulator_imports_signing_the_proto_and_the_vendor_worker_pool_only() -> None:
    # The vendor-script reference reuses the signer backend's Node worker pool (signers/vendor_script.py,
    # which itself imports only signing/ and signers/backend.py); nothing of the server's layers.
    code = (
        "import sys, ttsign.emulator.runner, ttsign.emulator.app\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('ttsign.'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    allowed = ("ttsign.emulator", "ttsign.signing", "ttsign.proto")
    pool = {"ttsign.signers", "ttsign.signers.backend", "ttsign.signers.vendor_script"}
    assert [m for m in loaded if not m.startswith(allowed) and m not in pool] == []
