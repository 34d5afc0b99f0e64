"""Instructions per direct connect, counted under cachegrind: a cost the VM's drifting speed cannot move.

This VM's speed drifts by tens of percent within minutes, so a change worth 5% of a connect's CPU is lost in
the noise of any timed run (connect_direct.py's capacity figures move ±10% between identical servers). An
instruction count does not drift: the same connect costs the same count, run after run, to within 1-2%.
It is a proxy (it ignores cache misses), but changes that cut it have cut the server's CPU alike.

What is counted: the whole app (create_app, every middleware, the connect route, admission, the direct
strategy, the answer) called in-process as an ASGI app, without sockets or uvicorn, against
`ttsign emulate --era 2026-09`. Two runs under `valgrind --tool=cachegrind --cache-sim=no` make `--few`
and `--many` connects; their difference over the extra connects is one connect's instructions, start-up
cancelled out. PYTHONHASHSEED is fixed so both runs hash alike.

`--rev REV` counts a git revision too (checked out in a temporary worktree), for a before/after figure.
`--fetch` counts a fetch connect too, as connect_direct.py's capacity run makes it (fully signed, against
`asgi_floor.py --tiktok`, the fastest TikTok possible; curl's own instructions included), and prints how many
times a direct connect's count it is: issue 17's "3x cheaper", counted instead of timed.
Needs valgrind (make bench-tools). Usage: python benchmarks/connect_instructions.py [--rev REV] [--fetch]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from connect_direct import FULL_SIGNATURES, LIFTED, QUERY, Floor
from procs import BENCH_ENV, Proc

ROOT = Path(__file__).resolve().parent.parent


async def connect_in_process(upstream: str, count: int) -> None:
    """`count` connects through the whole app, each answered 200 (the inner run, under valgrind); direct or
    fetch as the environment's settings choose (`FETCHING` for fetch)."""
    from ttsign.api.app import create_app
    from ttsign.config import Settings

    app = create_app(Settings(upstream=upstream))
    statuses: set[int] = set()

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(int(str(message["status"])))

    async with app.router.lifespan_context(app):
        for _ in range(20 + count):  # 20 to warm up: the identity's bootstrap, first-call caches
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": "/webcast/fetch",
                "raw_path": b"/webcast/fetch",
                "query_string": QUERY.encode(),
                "root_path": "",
                "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"TikTokLive.py/7.0.1"), (b"accept", b"*/*")],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            }
            await app(scope, receive, send)
    if statuses != {200}:
        raise SystemExit(f"connects answered {sorted(statuses)}, not only 200")


FETCHING = {"TTSIGN_CONNECT_STRATEGIES": '["fetch"]', "TTSIGN_SIGNATURES_BY_ENDPOINT": FULL_SIGNATURES}


def instructions(source: Path, upstream: str, count: int, settings: dict[str, str]) -> int:
    """Instructions of one inner run making `count` connects, with ttsign imported from `source`."""
    env = {**os.environ, **BENCH_ENV, **LIFTED, **settings, "PYTHONPATH": str(source), "PYTHONHASHSEED": "0"}
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--inner",
        str(count),
        "--upstream",
        upstream,
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, cwd=Path(__file__).parent)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_connect(source: Path, upstream: str, few: int, many: int, settings: dict[str, str] | None = None) -> float:
    """Both runs at once (one per core): each count is the same whatever runs beside it."""
    with ThreadPoolExecutor(2) as pool:
        low, high = pool.map(lambda count: instructions(source, upstream, count, settings or {}), (few, many))
    return (high - low) / (many - few)


def worktree_of(rev: str) -> Path:
    """`rev` checked out, with its compiled X-Gnarly built as `pip install -e .` builds it: without it the
    signer falls back to pure Python, ten times the instructions (fetch signs every im/fetch)."""
    place = Path(tempfile.mkdtemp(prefix="ttsign-rev-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(place), rev], check=True, capture_output=True
    )
    build = [sys.executable, "setup.py", "build_ext", "--inplace"]
    subprocess.run(build, cwd=place, check=True, capture_output=True)
    return place


def main(rev: str | None, few: int, many: int, fetch: bool) -> None:
    emulator = Proc("emulate", "--port", "0", "--era", "2026-09")
    canned = Floor("--tiktok") if fetch else None
    trees: dict[str, Path] = {"working tree": ROOT / "src"}
    made: list[Path] = []
    try:
        if rev is not None:
            place = worktree_of(rev)
            made.append(place)
            trees = {rev: place / "src", **trees}
        print(f"instructions per connect (cachegrind; {many} - {few} connects in-process):")
        for name, source in trees.items():
            direct = per_connect(source, emulator.url, few, many)
            line = f"  {name:<14} direct {direct:9,.0f}"
            if canned is not None:
                fetched = per_connect(source, canned.url, few, many, FETCHING)
                line += f"   fetch {fetched:9,.0f}   fetch / direct {fetched / direct:.2f}x"
            print(line)
    finally:
        emulator.stop()
        if canned is not None:
            canned.stop()
        for place in made:
            remove = ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(place)]
            subprocess.run(remove, check=False, capture_output=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="also count this git revision (before/after)")
    parser.add_argument("--fetch", action="store_true", help="count a fetch connect too, and the ratio")
    parser.add_argument("--few", type=int, default=200)
    parser.add_argument("--many", type=int, default=1200)
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner is not None:
        asyncio.run(connect_in_process(args.upstream, args.inner))
    else:
        if shutil.which("valgrind") is None:
            raise SystemExit("valgrind is needed (make bench-tools)")
        main(args.rev, args.few, args.many, args.fetch)
