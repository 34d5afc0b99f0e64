"""Drive the real, unmodified TikTokLive (PyPI 6.6.6) against loopback URLs; one JSON line per event on stdout.

Runs in its own virtual environment (.venv-e2e/tiktoklive-6.6.6, made by scripts/e2e-deps.sh). 6.6.6 already
talks to the sign server through EulerApiSdk 0.1.0 (GET {sign}/webcast/fetch) and has 7.0.1's event classes and
settings (``WebDefaults``, ``signer_kwargs``; spec sign-api.md §9), so the flags, output lines, outcome line and
exit codes are exactly python_client.py's: this driver reuses it and only checks that the right version runs.
Differences from 7.0.1 that a test can see: a WebSocket refused with HTTP 400 is not WebcastBlockedError
(6.6.6 only knows WebcastBlocked200Error), and route params are echoed without percent-encoding.
"""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version

import python_client  # same directory: the script's directory is first on sys.path

EXPECTED_VERSION = "6.6.6"


def main() -> int:
    installed = version("TikTokLive")
    if installed != EXPECTED_VERSION:
        python_client.emit(
            {"event": "outcome", "ok": False, "error": "WrongVersion", "message": f"TikTokLive {installed} installed"}
        )
        return 3
    return asyncio.run(python_client.run(python_client.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
