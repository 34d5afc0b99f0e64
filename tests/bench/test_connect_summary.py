"""benchmarks/connect.py: what a path adds is measured against the direct path of the same repeat, and the
target is judged on the median over repeats."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from connect import Repeat, summarize


def _repeat(direct_ms: float, ttsign_ms: float, control_ms: float) -> Repeat:
    # 100 samples each: 99 at the path's latency and one 50 ms slower, so p50 is the latency and p99 the outlier.
    def samples(ms: float) -> list[float]:
        return [ms] * 99 + [ms + 50.0]

    return Repeat({"direct": samples(direct_ms), "ttsign": samples(ttsign_ms), "control": samples(control_ms)})


def test_added_is_against_the_direct_path_of_the_same_repeat() -> None:
    repeat = _repeat(direct_ms=30.0, ttsign_ms=32.5, control_ms=29.0)
    assert repeat.added("ttsign", 50) == pytest.approx(2.5)
    assert repeat.added("control", 50) == pytest.approx(-1.0)


def test_summary_takes_medians_over_repeats_and_counts_repeats_within_target() -> None:
    runs = [
        _repeat(30.0, 31.0, 30.0),  # +1 ms
        _repeat(30.0, 38.0, 35.0),  # +8 ms: over the 3 ms target
        _repeat(30.0, 32.0, 28.0),  # +2 ms
    ]
    summary = summarize(runs)
    assert summary["ttsign p50"] == pytest.approx(2.0)
    assert summary["ttsign within"] == 2
    assert summary["control within"] == 2  # the second repeat's control adds 5 ms
    assert (summary["control p50 min"], summary["control p50"], summary["control p50 max"]) == pytest.approx(
        (-2.0, 0.0, 5.0)
    )


def test_a_p99_over_target_fails_the_repeat_even_when_p50_is_within() -> None:
    tail = Repeat({"direct": [30.0] * 100, "ttsign": [30.0] * 98 + [80.0] * 2, "control": [30.0] * 100})
    assert tail.added("ttsign", 50) == pytest.approx(0.0)
    assert summarize([tail])["ttsign within"] == 0
