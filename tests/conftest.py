"""Shared test fixtures: where the golden vectors live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent / "vectors"


def load_vectors(name: str) -> list[dict[str, Any]]:
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    vectors: list[dict[str, Any]] = data["vectors"]
    assert len(vectors) == data["count"]
    return vectors


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return VECTORS
