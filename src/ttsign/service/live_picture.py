"""The console's live numbers, from ttsign's own Prometheus metrics: requests per second by dialect, refusals
by reason, latency percentiles and connect outcomes by strategy.

Counters only ever grow, so a rate needs two readings: every reading is kept for `window_s`, and rates are the
difference between now and the oldest reading in that window. The first reading has no rate yet (None); the
console asks every few seconds, so the second one has. Percentiles come from the request-duration histogram's
buckets over the same window (interpolated within a bucket, as Prometheus's histogram_quantile does), or over
the whole run while the window saw no request. With `--workers N` every worker's samples are added up.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.metrics_core import Metric

from ttsign.metrics import Metrics, multiprocess_dir

K = TypeVar("K")
WINDOW_S = 60.0
CONSOLE_ROUTES = "/admin"
_MIN_SPAN_S = 0.5  # a rate over less than this says more about the clock than the traffic


@dataclass(frozen=True)
class Reading:
    """Cumulative counts at one moment."""

    at: float
    requests: dict[str, float] = field(default_factory=dict)  # dialect -> requests
    refusals: dict[str, float] = field(default_factory=dict)  # reason -> refusals
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> requests at or under it
    outcomes: dict[tuple[str, str], float] = field(default_factory=dict)  # (strategy, outcome) -> attempts


@dataclass(frozen=True)
class LiveNumbers:
    window_s: float  # what the rates and percentiles cover (0: the first reading, no rate yet)
    requests_per_s: dict[str, float] | None  # by dialect; None until a second reading
    requests_total: dict[str, int]  # by dialect, since the process started
    refusals: dict[str, int]  # by reason, in the window (since start on the first reading)
    p50_ms: float | None
    p99_ms: float | None
    latency_scope: str  # "window" or "since start"
    outcomes: dict[str, dict[str, int]]  # strategy -> outcome -> attempts since start


def read_metrics(metrics: Metrics, now: float) -> Reading:
    """The counters the console shows, read from the app's registry (or every worker's, in multiprocess mode)."""
    reading = Reading(at=now)
    for family in _families(metrics):
        for sample in family.samples:
            _take(reading, sample.name, sample.labels, sample.value)
    return reading


def _families(metrics: Metrics) -> Iterable[Metric]:
    directory = multiprocess_dir()
    if directory is None:
        return metrics.registry.collect()
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
    return merged.collect()


def _take(reading: Reading, name: str, labels: dict[str, str], value: float) -> None:
    if labels.get("route", "").startswith(CONSOLE_ROUTES):
        return  # the console polling itself is not traffic
    if name == "ttsign_http_requests_total":
        dialect = labels.get("dialect", "")
        reading.requests[dialect] = reading.requests.get(dialect, 0.0) + value
    elif name == "ttsign_http_request_duration_seconds_bucket":
        bound = float(labels["le"])
        reading.buckets[bound] = reading.buckets.get(bound, 0.0) + value
    elif name == "ttsign_upstream_refusals_total":
        reason = labels.get("reason", "")
        reading.refusals[reason] = reading.refusals.get(reason, 0.0) + value
    elif name == "ttsign_rate_limited_total":
        reason = f"rate_limited:{labels.get('window', '')}"
        reading.refusals[reason] = reading.refusals.get(reason, 0.0) + value
    elif name == "ttsign_connect_strategy_outcomes_total":
        key = (labels.get("strategy", ""), labels.get("outcome", ""))
        reading.outcomes[key] = reading.outcomes.get(key, 0.0) + value


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The q-quantile (seconds) of cumulative histogram buckets, interpolated within its bucket; None if empty."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # above the largest finite bucket: its bound is all that is known
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


class LivePicture:
    """Readings of one app's metrics, kept for `window_s`, turned into rates."""

    def __init__(
        self, metrics: Metrics, *, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._metrics = metrics
        self._window_s = window_s
        self._clock = clock
        self._readings: deque[Reading] = deque()

    def numbers(self) -> LiveNumbers:
        now = self._clock()
        current = read_metrics(self._metrics, now)
        while self._readings and now - self._readings[0].at > self._window_s:
            self._readings.popleft()
        oldest = self._readings[0] if self._readings else None
        if not self._readings or now - self._readings[-1].at >= 1.0:
            self._readings.append(current)  # at most one a second: a busy console page keeps the deque small
        span = now - oldest.at if oldest is not None else 0.0
        return _numbers(current, oldest if span >= _MIN_SPAN_S else None, span)


def _numbers(current: Reading, before: Reading | None, span: float) -> LiveNumbers:
    base = before or Reading(at=current.at)
    window_buckets = _minus(current.buckets, base.buckets)
    in_window = before is not None and max(window_buckets.values(), default=0.0) > 0
    buckets = window_buckets if in_window else current.buckets
    p50, p99 = quantile(0.5, buckets), quantile(0.99, buckets)
    rates = None
    if before is not None:
        rates = {dialect: round(n / span, 3) for dialect, n in _minus(current.requests, base.requests).items()}
    outcomes: dict[str, dict[str, int]] = {}
    for (strategy, outcome), n in current.outcomes.items():
        outcomes.setdefault(strategy, {})[outcome] = int(n)
    return LiveNumbers(
        window_s=round(span, 1) if before is not None else 0.0,
        requests_per_s=rates,
        requests_total={dialect: int(n) for dialect, n in current.requests.items()},
        refusals={reason: int(n) for reason, n in _minus(current.refusals, base.refusals).items() if n > 0},
        p50_ms=None if p50 is None else round(p50 * 1000, 2),
        p99_ms=None if p99 is None else round(p99 * 1000, 2),
        latency_scope="window" if in_window else "since start",
        outcomes=outcomes,
    )


def _minus(now: Mapping[K, float], before: Mapping[K, float]) -> dict[K, float]:
    return {key: value - before.get(key, 0.0) for key, value in now.items()}
