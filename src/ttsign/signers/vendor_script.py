"""The `vendor-script` backend: TikTok's own webmssdk.js, run by a small pool of long-lived Node workers.

The operator points ttsign at a copy of the bundle (never shipped with ttsign). Each worker
(vendor_worker.js) loads it once behind a minimal browser shim and signs through the SDK's own XHR
hook; requests and answers are JSON lines, pipelined, matched by id (the answers are routed to their
callers by a pipe protocol as the bytes arrive). A worker that dies, stops
answering or cannot load the bundle is a typed refusal (worker_crash, worker_timeout, bad_bundle);
it is killed by PID and a fresh one is started for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ttsign.signers.backend import BackendRefusal, RefusalKind, SignJob
from ttsign.signing import url as urls
from ttsign.signing.sdk_session import SdkSession
from ttsign.signing.signer import SignedRequest, request_headers

WORKER_SCRIPT = Path(__file__).with_name("vendor_worker.js")
_TOKENS = ("msToken", "X-Bogus", "X-Gnarly")
_LINE_LIMIT = 1 << 20  # one answer line is a signed URL: far below this


@dataclass(frozen=True)
class VendorScriptOptions:
    bundle: Path
    workers: int = 2
    timeout_s: float = 2.0  # per call; a worker slower than this is taken as hung
    start_timeout_s: float = 15.0  # loading and initialising the bundle
    node: str = "node"
    aid: int = 1988
    in_flight: int = 8  # pipelined calls per worker; more wait here, outside the hang timeout


class _Answers(asyncio.SubprocessProtocol):
    """A worker's stdout, split into JSON lines and handed to the waiting call as the bytes arrive.

    A protocol rather than a StreamReader read by a task: the answer resolves its caller's future in the
    event-loop turn that reads it, one turn and one task switch less per call (measured with a worker
    that answers at once: 25-30% less Python CPU per round trip).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ready: asyncio.Future[dict[str, Any]] = loop.create_future()  # the worker's first line
        self.exited: asyncio.Future[int | None] = loop.create_future()  # exit status, once stdout is closed too
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._transport: asyncio.SubprocessTransport | None = None
        self._buffer = bytearray()
        self._stdout_closed = False
        self._process_exited = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not isinstance: uvloop's transports do not subclass asyncio's.
        self._transport = cast(asyncio.SubprocessTransport, transport)

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        if fd != 1:
            return
        self._buffer += data.encode() if isinstance(data, str) else data
        start = 0
        while (end := self._buffer.find(b"\n", start)) >= 0:
            self._route(_parse(self._buffer[start:end]))
            start = end + 1
        del self._buffer[:start]
        if len(self._buffer) > _LINE_LIMIT and self._transport is not None:
            _kill(self._transport)  # no answer is this long: the worker is broken

    def _route(self, answer: dict[str, Any]) -> None:
        if not self.ready.done():
            self.ready.set_result(answer)
            return
        future = self.pending.pop(answer.get("id", -1), None)
        if future is not None and not future.done():
            future.set_result(answer)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._stdout_closed = True
            self._maybe_exited()

    def process_exited(self) -> None:
        self._process_exited = True
        self._maybe_exited()

    def _maybe_exited(self) -> None:
        """Dead once it has exited and its last answers are read (either can come first)."""
        if not (self._stdout_closed and self._process_exited) or self.exited.done():
            return
        if not self.ready.done():
            self.ready.set_result({})
        self.exited.set_result(self._transport.get_returncode() if self._transport is not None else None)


@dataclass
class _Worker:
    transport: asyncio.SubprocessTransport
    answers: _Answers
    entry_points: tuple[str, ...] = ()
    dead: BackendRefusal | None = None

    @property
    def pid(self) -> int:
        return self.transport.get_pid()

    @property
    def pending(self) -> dict[int, asyncio.Future[dict[str, Any]]]:
        return self.answers.pending

    def write(self, line: bytes) -> None:
        stdin = cast(asyncio.WriteTransport | None, self.transport.get_pipe_transport(0))
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError
        stdin.write(line)


class VendorScriptBackend:
    name = "vendor-script"

    def __init__(self, options: VendorScriptOptions, *, ms_token: Callable[[], str] = lambda: "") -> None:
        self.options = options
        self._ms_token = ms_token  # each worker (one SDK page) starts with a token of its own
        self._slots: list[_Worker | None] = [None] * max(1, options.workers)
        self._locks = [asyncio.Lock() for _ in self._slots]
        self._room = [asyncio.Semaphore(max(1, options.in_flight)) for _ in self._slots]
        self._next = itertools.count()
        self._ids = itertools.count(1)

    def _refuse(self, kind: RefusalKind, message: str) -> BackendRefusal:
        return BackendRefusal(self.name, kind, message)

    async def _spawn(self) -> _Worker:
        node = shutil.which(self.options.node)
        if node is None:
            raise self._refuse(RefusalKind.UNAVAILABLE, f"no {self.options.node!r} executable on PATH")
        env = {"PATH": os.environ.get("PATH", ""), "TTSIGN_WORKER_MS_TOKEN": self._ms_token()}
        loop = asyncio.get_running_loop()
        transport, answers = await loop.subprocess_exec(
            lambda: _Answers(loop),
            node,
            str(WORKER_SCRIPT),
            str(self.options.bundle),
            str(self.options.aid),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        worker = _Worker(transport, answers)
        try:
            async with asyncio.timeout(self.options.start_timeout_s):
                ready = await answers.ready
        except TimeoutError:
            await self._stop(worker)
            raise self._refuse(RefusalKind.BAD_BUNDLE, "the bundle did not initialise in time") from None
        if not ready.get("ready"):
            await self._stop(worker)
            reason = str(ready.get("error") or "the worker exited before it was ready")
            raise self._refuse(RefusalKind.BAD_BUNDLE, reason)
        worker.entry_points = tuple(str(e) for e in ready.get("entry_points", ()))
        answers.exited.add_done_callback(lambda exited: self._exited(worker, exited))
        return worker

    def _exited(self, worker: _Worker, exited: asyncio.Future[int | None]) -> None:
        """The worker died: fail everything it owed, and let go of its pipes."""
        code = exited.result()
        self._fail(worker, self._refuse(RefusalKind.CRASH, f"the worker exited (status {code})"))
        worker.transport.close()

    def _fail(self, worker: _Worker, refusal: BackendRefusal) -> None:
        worker.dead = worker.dead or refusal
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(worker.dead)
        worker.pending.clear()

    async def _worker(self, slot: int) -> _Worker:
        """The slot's live worker, started (again) when it has none."""
        async with self._locks[slot]:
            current = self._slots[slot]
            if current is None or current.dead is not None:
                self._slots[slot] = current = await self._spawn()
            return current

    async def _call(self, job: dict[str, Any]) -> dict[str, Any]:
        slot = next(self._next) % len(self._slots)
        async with self._room[slot]:
            return await self._call_worker(slot, job)

    async def _call_worker(self, slot: int, job: dict[str, Any]) -> dict[str, Any]:
        worker = await self._worker(slot)
        job_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        worker.pending[job_id] = future
        try:
            worker.write(json.dumps({**job, "id": job_id}).encode() + b"\n")
            async with asyncio.timeout(self.options.timeout_s):
                answer = await future
        except TimeoutError:
            # A hung SDK blocks its whole worker: kill it; the next call starts a fresh one.
            self._fail(worker, self._refuse(RefusalKind.HANG, f"no answer within {self.options.timeout_s:g} s"))
            _kill(worker.transport)
            raise worker.dead or self._refuse(RefusalKind.HANG, "no answer") from None
        except (BrokenPipeError, ConnectionResetError):
            self._fail(worker, self._refuse(RefusalKind.CRASH, "the worker's input is closed"))
            raise worker.dead or self._refuse(RefusalKind.CRASH, "closed") from None
        finally:
            worker.pending.pop(job_id, None)
        if not answer.get("ok"):
            raise self._refuse(RefusalKind.BAD_ANSWER, str(answer.get("error", "the worker refused")))
        return answer

    async def sign(self, job: SignJob, rng: random.Random) -> SignedRequest:
        # The SDK appends msToken, X-Bogus and X-Gnarly itself: give it the URL without any of them.
        parts = urls.split(urls.normalize(job.url))
        query = urls.strip_params(parts.query, urls.SIGNATURE_PARAMS)
        url = f"{parts.base}?{query}" if query else parts.base
        answer = await self._call({"op": "sign", **_request_of(job), "url": url})
        signed_url = answer.get("url")
        if not isinstance(signed_url, str) or not signed_url.startswith(url):
            raise self._refuse(RefusalKind.BAD_ANSWER, "the SDK's URL is not the request's URL plus signatures")
        signed_query = urls.split(signed_url).query
        tokens = {name: urls.find_param(signed_query, name) for name in _TOKENS}
        return SignedRequest(
            job.method,
            signed_url,
            request_headers(job.profile),
            {name: value for name, value in tokens.items() if value is not None},
            job.session or SdkSession.start(rng, job.now_ms),  # the SDK keeps the page state itself
        )

    async def sign_at(self, method: str, url: str, body: str, user_agent: str, platform: str, *, now_ms: int) -> str:
        """The URL the SDK sends for `url` when its clock reads `now_ms` (tokens appended, nothing stripped):
        the emulator's vendor-script verification reproduces a signature at the time it claims."""
        answer = await self._call(
            {"op": "sign", "method": method, "url": url, "body": body,
             "user_agent": user_agent, "platform": platform, "now_ms": now_ms}
        )  # fmt: skip
        signed_url = answer.get("url")
        if not isinstance(signed_url, str):
            raise self._refuse(RefusalKind.BAD_ANSWER, "the SDK gave no URL")
        return signed_url

    async def frontier_sign(self, stub: str) -> dict[str, Any]:
        """The SDK's frontierSign({"X-MS-STUB": stub}) (Douyin's socket `signature`)."""
        value = (await self._call({"op": "frontier", "stub": stub})).get("value")
        if not isinstance(value, dict):
            raise self._refuse(RefusalKind.BAD_ANSWER, "frontierSign gave no object")
        return value

    async def direct_latencies(self, job: SignJob, count: int) -> list[float]:
        """Seconds each of `count` signs takes inside one worker (no IPC): the benchmark's ceiling."""
        answer = await self._call({"op": "bench", "count": count, **_request_of(job)})
        each = answer.get("each")
        return [float(s) for s in each] if isinstance(each, list) else []

    async def timed_sign(self, job: SignJob) -> tuple[float, float]:
        """One sign through a worker: its seconds in all, and its seconds inside the worker (benchmarks: the
        difference is what the pipe and both processes waking cost a call)."""
        started = time.perf_counter()
        answer = await self._call({"op": "timed", **_request_of(job)})
        took = answer.get("took_s")
        return time.perf_counter() - started, float(took) if isinstance(took, (int, float)) else math.nan

    async def ping(self) -> None:
        """One round trip to a worker and back, nothing signed: what the pipe alone costs (benchmarks)."""
        await self._call({"op": "ping"})

    async def check(self) -> None:
        await self._worker(0)

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._slots if w is not None and w.dead is None]

    async def aclose(self) -> None:
        for index, worker in enumerate(self._slots):
            if worker is None:
                continue
            self._slots[index] = None
            await self._stop(worker)

    async def _stop(self, worker: _Worker) -> None:
        """Kill by PID and wait until it is reaped, so no process or pipe outlives the backend."""
        _kill(worker.transport)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(worker.answers.exited), timeout=5)
        worker.transport.close()


def _request_of(job: SignJob) -> dict[str, Any]:
    """The request a worker op signs, as the job gives it."""
    return {"method": job.method, "url": job.url, "body": job.body,
            "user_agent": job.profile.user_agent, "platform": job.profile.browser_platform}  # fmt: skip


def _parse(line: bytes | bytearray) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _kill(transport: asyncio.SubprocessTransport) -> None:
    """SIGKILL by PID, unless it is already reaped (its PID may then be another process's)."""
    if transport.get_returncode() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(transport.get_pid(), signal.SIGKILL)
