"""Fixtures of the API tests that run real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import EmulatorHandle, start_emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    """A strict plain-HTTP `ttsign emulate` with the default scenario for the module; stopped by PID."""
    handle = start_emulator(None, strict=True, tls=False, era="2026-08")  # the im/fetch path these modules test
    yield handle
    handle.proc.stop()
