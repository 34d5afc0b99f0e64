"""`ttsign vectors check` signs every vector in the environment the vector records, and says what it skipped."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VECTORS
from ttsign import vector_environment, vectors
from ttsign.signing.environment import FieldOrderPolicy, InitStampPolicy, IntWidthPolicy


def _file(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def _run(tmp_path: Path, data: dict[str, Any]) -> list[vectors.Outcome]:
    path = tmp_path / "v.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return list(vectors.check([vectors.load(path)]))


def test_every_golden_vector_passes_in_its_recorded_environment() -> None:
    loaded = [vectors.load(p) for p in sorted(VECTORS.glob("*.json"))]
    assert vectors.summarize(vectors.check(loaded)).line() == "383 passed, 0 failed, 0 skipped"


def test_the_environment_read_from_sdk_vectors_is_the_vendor_shape() -> None:
    v = _file("xgnarly.vendor_sdk_5.1.3.json")["vectors"][0]
    env = vector_environment.of_x_gnarly(v)
    assert (env.payload_version, env.sdk_build) == ("5.1.3", "1.0.0.328")
    assert env.int_width is IntWidthPolicy.MINIMAL and env.short_int_limit == 1 << 16
    assert env.field_order is FieldOrderPolicy.FIXED and list(env.fixed_field_order) == v["decoded"]["field_order"]
    assert env.init_stamp is InitStampPolicy.PAGE_LOAD_US and env.chacha_rounds == 0
    legacy = _file("xgnarly.legacy_5.1.0_5.1.1.json")["vectors"][0]
    legacy_env = vector_environment.of_x_gnarly(legacy)
    assert legacy_env.short_int_limit == 255 * 255 and legacy_env.init_stamp is InitStampPolicy.CLOCK_US


def test_recorded_widths_are_what_the_vector_is_signed_with(tmp_path: Path) -> None:
    """A width the peer wrote differently (4 bytes for field 1) becomes a fixed-width environment."""
    data = _file("xgnarly.vendor_sdk_5.1.3.json")
    data["vectors"] = data["vectors"][:2]
    data["vectors"][0]["decoded"]["field_widths"]["1"] = 4
    env = vector_environment.of_x_gnarly(data["vectors"][0])
    assert env.int_width is IntWidthPolicy.FIXED and dict(env.fixed_int_widths)[1] == 4
    outcomes = _run(tmp_path, data)
    # The recorded token was written with 2 bytes: signing with the recorded (4-byte) width must disagree.
    assert outcomes[0].problems and any(p.startswith("x_gnarly:") for p in outcomes[0].problems)
    assert outcomes[1].ok


@pytest.mark.parametrize(("declared", "passes"), [("legacy-5.1.0", True), ("legacy-5.1.1", False)])
def test_a_declared_environment_checks_a_file_of_inputs_and_outputs_only(
    tmp_path: Path, declared: str, passes: bool
) -> None:
    """No `decoded` record: page state, random words and key come from the token itself."""
    data = _file("xgnarly.legacy_5.1.0_5.1.1.json")
    data["vectors"] = [v for v in data["vectors"] if v["version"] == "5.1.0"][:4]
    for v in data["vectors"]:
        del v["decoded"]
    data["environment"] = declared
    outcomes = _run(tmp_path, data)
    assert all(o.ok for o in outcomes) is passes
    assert len(outcomes) == 4


def test_a_vector_declaring_an_environment_table_is_signed_with_it(tmp_path: Path) -> None:
    data = _file("xgnarly.legacy_5.1.0_5.1.1.json")
    data["vectors"] = [v for v in data["vectors"] if v["version"] == "5.1.1"][:2]
    for v in data["vectors"]:
        del v["decoded"]
    data["vectors"][0]["environment"] = {"base": "legacy-5.1.1"}
    data["vectors"][1]["environment"] = {"base": "legacy-5.1.1", "sdk_build": "9.9.9"}
    first, second = _run(tmp_path, data)
    assert first.ok and not second.ok


def test_an_unsignable_vector_without_environment_is_skipped_with_the_reason(tmp_path: Path) -> None:
    data = _file("xgnarly.vendor_sdk_5.1.3.json")
    data["vectors"] = copy.deepcopy(data["vectors"][:3])
    for v in data["vectors"][:2]:
        for key in ("x_gnarly", "decoded", "x_bogus_same_call"):
            del v[key]
        v["error"] = "TypeError: cannot read properties of undefined"
    outcomes = _run(tmp_path, data)
    assert [o.skipped is not None for o in outcomes] == [True, True, False]
    assert "TypeError: cannot read properties of undefined" in (outcomes[0].skipped or "")
    assert "records no environment" in (outcomes[0].skipped or "")
    assert vectors.summarize(outcomes).line() == "1 passed, 0 failed, 2 skipped"


def test_an_unsignable_vector_with_an_environment_is_signed_by_ttsign_not_skipped(tmp_path: Path) -> None:
    data = _file("xgnarly.vendor_sdk_5.1.3.json")
    data["vectors"] = data["vectors"][:1]
    v = data["vectors"][0]
    del v["x_gnarly"], v["x_bogus_same_call"]
    v["error"] = "peer failed"
    [outcome] = _run(tmp_path, data)
    assert outcome.ok and outcome.skipped is None


def test_a_vector_without_environment_that_is_not_marked_error_fails(tmp_path: Path) -> None:
    data = _file("xbogus.vendor_sdk_1.0.0.368.json")
    data["vectors"] = data["vectors"][:1]
    del data["vectors"][0]["env"]
    [outcome] = _run(tmp_path, data)
    assert not outcome.ok and outcome.skipped is None and "records no environment" in outcome.problems[0]


def test_cli_prints_skip_lines_and_the_three_counts(tmp_path: Path) -> None:
    data = _file("xbogus.vendor_sdk_1.0.0.368.json")
    for v in data["vectors"][:3]:
        del v["x_bogus"], v["decoded"], v["env"]
        v["error"] = "peer failed"
    path = tmp_path / "peer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ttsign.cli", "vectors", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-1500:]
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "61 passed, 0 failed, 3 skipped"
    assert sum(line.startswith("SKIP peer.json c00") for line in lines) == 3
