"""Signatures per second on one core for vector c001 (median of 5 runs). Same as `ttsign bench signing`."""

from __future__ import annotations

import sys

from ttsign.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "signing", *sys.argv[1:]]
    main()
