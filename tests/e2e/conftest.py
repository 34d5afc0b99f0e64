"""Process fixtures for the end-to-end tests: each test gets its own emulator on fresh ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import EmulatorHandle, node_missing, start_emulator, stop_cleanly

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "src" / "ttsign" / "emulator" / "scenarios" / "default.yaml"

StartEmulator = Callable[..., EmulatorHandle]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[StartEmulator]:
    """emulator(scenario: Path | dict | None, strict=True, tls=True, era=None) -> EmulatorHandle; stopped by PID
    after. `era` None is the emulator's default (2026-09)."""
    started: list[EmulatorHandle] = []

    def start(
        scenario: Path | dict[str, Any] | None = None, *, strict: bool = True, tls: bool = True, era: str | None = None
    ) -> EmulatorHandle:
        handle = start_emulator(scenario, strict=strict, tls=tls, era=era)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        stop_cleanly(handle.proc)


@pytest.fixture
def default_scenario() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_SCENARIO.read_text())
    return data


@pytest.fixture
def needs_node() -> None:
    reason = node_missing()
    if reason:
        pytest.skip(reason)
