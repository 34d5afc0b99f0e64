"""Signing throughput on one core: signatures per second, median of several timed runs.

The input is golden vector c001: a ~1 KB webcast im/fetch query, an empty body and a Chrome UA.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from ttsign.signing import acrawler, chacha, default_profile, xbogus, xgnarly
from ttsign.signing.environment import DEFAULT_ENVIRONMENT, SignerEnvironment
from ttsign.signing.sdk_session import Environment, RequestDigest

C001_USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 "
    "Safari/537.36"
)
C001_QUERY = (
    "aid=1988&app_language=en-US&app_name=tiktok_web&browser_language=en-US&browser_name=Mozilla&browser_online=true"
    "&browser_platform=Win32&browser_version=5.0%20%28Macintosh%3B%20Intel%20Mac%20OS%20X%2010_15_7%29%20AppleWebKit"
    "%2F537.36%20%28KHTML%2C%20like%20Gecko%29%20Chrome%2F140.0.0.0%20Safari%2F537.36&cookie_enabled=true&cursor="
    "&internal_ext=&device_platform=web&focus_state=true&from_page=user&history_len=4&is_fullscreen=false"
    "&is_page_visible=true&did_rule=3&fetch_rule=1&identity=audience&last_rtt=0&live_id=12&resp_content_type=protobuf"
    "&screen_height=1080&screen_width=1920&tz_name=Europe%2FBerlin&referer=https%3A%2F%2Fwww.tiktok.com%2F"
    "&root_referer=https%3A%2F%2Fwww.tiktok.com%2F&version_code=270000&webcast_sdk_version=1.3.0"
    "&update_version_code=1.3.0&room_id=7440485397569376621&cursor_ext=&msToken=KrJAXUusVVuyssOf0J8KpTLdavAs3DbZWQ"
    "hvvx363hCcf78y97O_uJyP7rnMXnYhAyv9noD8R0Q8c-MsIwmfgDFeV7O9_nmHh_JFnHZGbFEZxdbVVmliWKO8ioa5dYh2NdBWflcpjaxvHDRe3vjx"
)
C001_TS_MS = 1767225600000


@dataclass(frozen=True)
class Result:
    name: str
    per_second: float  # median over the runs
    runs: tuple[float, ...]


def _rate(fn: Callable[[], object], seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(64):
            fn()
        count += 64
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


Progress = Callable[[str], None]  # called after each timed run with the signature's name


def _quiet(_: str) -> None:
    pass


def measure(name: str, fn: Callable[[], object], *, runs: int, seconds: float, progress: Progress = _quiet) -> Result:
    fn()  # warm caches (the UA hash, the lane layout) as a running server has them
    rates = []
    for _ in range(runs):
        rates.append(_rate(fn, seconds))
        progress(name)
    return Result(name, statistics.median(rates), tuple(rates))


@contextmanager
def pure_python() -> Iterator[None]:
    """Run with the compiled X-Gnarly path switched off, to measure the pure-Python one."""
    saved = chacha.native_keystream, xgnarly.native_token
    chacha.native_keystream, xgnarly.native_token = None, None
    try:
        yield
    finally:
        chacha.native_keystream, xgnarly.native_token = saved


def _signers(environment: SignerEnvironment = DEFAULT_ENVIRONMENT) -> dict[str, Callable[[], object]]:
    """The three signatures of c001, each built from the signer environment as a server builds them."""
    profile = environment.apply(default_profile())
    env = Environment(profile.envcode, profile.ubcode, profile.canvas)
    rng = random.Random(1)
    session = environment.start_session(rng, C001_TS_MS)
    fmt = environment.payload_format
    url = f"https://webcast.tiktok.com/webcast/im/fetch/?{C001_QUERY}"

    def x_bogus() -> str:
        return xbogus.encode(
            C001_QUERY,
            "",
            C001_USER_AGENT,
            ts=C001_TS_MS // 1000,
            envcode=env.envcode,
            ubcode=env.ubcode,
            canvas=env.canvas,
        )

    def x_gnarly() -> str:
        fields = environment.payload(
            RequestDigest.of(C001_QUERY, "", C001_USER_AGENT),
            env,
            session,
            now_ms=C001_TS_MS,
            rand16=rng.getrandbits(16),
            rand32=rng.getrandbits(32),
        )
        return xgnarly.encode(fields, session.field_order, rng.getrandbits(384).to_bytes(48, "little"), fmt)

    def signature() -> str:
        return acrawler.sign(
            url, C001_USER_AGENT, referer="https://www.tiktok.com/", ts=C001_TS_MS // 1000, canvas=env.canvas
        )

    return {"X-Bogus": x_bogus, "X-Gnarly": x_gnarly, "_signature": signature}


def planned_runs(runs: int) -> int:
    """How many timed runs `run(runs=...)` makes in all (a progress bar's total)."""
    return runs * (4 if xgnarly.native_token is not None else 3)


def run(*, runs: int = 5, seconds: float = 1.0, progress: Progress = _quiet) -> list[Result]:
    signers = _signers()
    timed = partial(measure, runs=runs, seconds=seconds, progress=progress)
    results = [timed("X-Bogus", signers["X-Bogus"])]
    with pure_python():
        results.append(timed("X-Gnarly (pure Python)", signers["X-Gnarly"]))
    if xgnarly.native_token is not None:
        results.append(timed("X-Gnarly (compiled)", signers["X-Gnarly"]))
    results.append(timed("_signature", signers["_signature"]))
    return results
