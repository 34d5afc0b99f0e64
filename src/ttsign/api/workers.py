"""Several worker processes on one listening socket (`ttsign serve --workers N`).

The parent binds and listens, announces readiness, then forks the workers; each builds its own app (its
own event loop, store connection and upstream session). The parent forwards SIGINT/SIGTERM, restarts a
worker that dies unexpectedly, and exits 0 once every worker has stopped after a signal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType

from ttsign import metrics

logger = logging.getLogger(__name__)
_RESTART_BACKOFF_S = 0.5


def _spawn(target: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # the worker
        # Its own process group: a terminal's Ctrl-C reaches only the parent, which forwards one SIGTERM
        # (two signals would make uvicorn drop open connections instead of finishing them).
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        code = 0
        try:
            target()
        except BaseException:  # a worker must never return into the parent's code
            logger.exception("worker %s crashed", os.getpid())
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def supervise(
    sock: socket.socket, count: int, target: Callable[[], None], ready_line: Callable[[socket.socket], str]
) -> None:
    # Workers write metrics to one shared directory, so a scrape of any worker reports them all.
    with metrics.shared_directory():
        _supervise(sock, count, target, ready_line)


def _supervise(
    sock: socket.socket, count: int, target: Callable[[], None], ready_line: Callable[[socket.socket], str]
) -> None:
    sock.listen(2048)
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    children: set[int] = set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for _ in range(count):
        children.add(_spawn(target))
    sys.stdout.write(ready_line(sock) + "\n")
    sys.stdout.flush()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
            continue
        children.discard(pid)
        metrics.worker_exited(pid)
        if not stopping:
            logger.error("worker %s exited (status %s); starting a new one", pid, status)
            time.sleep(_RESTART_BACKOFF_S)
            children.add(_spawn(target))
