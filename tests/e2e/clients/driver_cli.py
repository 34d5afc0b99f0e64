"""What the Python client drivers share: one JSON line per event or outcome, and the loopback arguments.

Imported by file name (a driver's own directory is first on sys.path), from whichever virtual environment
runs the driver, so it needs nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, default=str), flush=True)


def loopback_parser(doc: str | None, *, timeout_s: float) -> argparse.ArgumentParser:
    """The arguments that point a client at the emulator and a sign server (defaults from TTSIGN_E2E_*)."""
    env = os.environ.get
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--web", default=env("TTSIGN_E2E_WEB"), help="base URL standing in for www.tiktok.com")
    parser.add_argument("--webcast", default=env("TTSIGN_E2E_WEBCAST"), help="webcast base URL (default: --web)")
    parser.add_argument("--sign", default=env("TTSIGN_E2E_SIGN") or env("SIGN_API_URL"), help="sign server base URL")
    parser.add_argument("--unique-id", default=env("TTSIGN_E2E_UNIQUE_ID", "emu_streamer"))
    parser.add_argument("--api-key", default=env("TTSIGN_E2E_API_KEY"))
    parser.add_argument("--timeout", type=float, default=float(env("TTSIGN_E2E_TIMEOUT", str(timeout_s))))
    return parser


def parse_loopback(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if not args.web or not args.sign:
        parser.error("--web and --sign are required (or TTSIGN_E2E_WEB / TTSIGN_E2E_SIGN)")
    return args
