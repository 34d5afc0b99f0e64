"""Where the tests find TikTok's webmssdk bundles: the npm package tiktok-signature@4.3.6, installed at test
time by scripts/e2e-deps.sh (`npm ci` in tests/e2e/node-webmssdk). The bundles are never committed."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tests" / "e2e" / "node-webmssdk" / "node_modules" / "tiktok-signature" / "javascript"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def bundle(version: str) -> Path:
    return PACKAGE / f"webmssdk_{version}.js"


def missing(version: str = "5.1.3") -> str | None:
    """Why the vendor-script tests cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not bundle(version).is_file():
        return f"{bundle(version)} is missing: run scripts/e2e-deps.sh (npm ci in tests/e2e/node-webmssdk)"
    return None
