"""benchmarks/load.py: `--rate` takes one rate or a list, one paced run each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from load import rates


def test_one_rate_or_a_list_in_the_order_given() -> None:
    assert rates("500") == [500.0]
    assert rates("1000,500,750.5") == [1000.0, 500.0, 750.5]


@pytest.mark.parametrize("text", ["", "fast", "500,", "0", "500,-1"])
def test_anything_but_positive_rates_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        rates(text)
