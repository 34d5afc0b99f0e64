"""Prometheus metrics: what is measured, and how it is exposed with one process or many.

Labels are closed sets only: route templates (never raw paths or queries), client dialect, refusal reason,
limit window, breaker scope, connect strategy. No key, session id, cookie, room id or URL ever becomes a label value.

`ttsign serve --workers N` runs N processes behind one port, and a scrape reaches only one of them. So the
parent points PROMETHEUS_MULTIPROC_DIR at a private directory before forking (`shared_directory`), every
worker writes its samples there, and `/metrics` in any worker adds them all up (prometheus-client's
multiprocess mode). With one process the samples live in memory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ttsign.plain_metrics import PlainCounter, PlainHistogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Latency buckets from sub-millisecond (signing, cached answers) to the 2.5 s upstream budget and beyond.
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SIGNING_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05)

P = ParamSpec("P")
R = TypeVar("R")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """Every ttsign metric, registered on a registry of its own (one per app, so tests can build many)."""

    def __init__(self) -> None:
        if multiprocess_dir() is not None:
            # prometheus-client picks its value store when first imported, which may have been before the
            # parent set the directory: choose again now, before any sample exists in this process.
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        reg = self.registry
        # What every request adds to: plain numbers in one process (plain_metrics.py), the library's own
        # values when workers must share them through the multiprocess directory.
        plain = multiprocess_dir() is None
        self.requests = _counter(
            reg,
            "ttsign_http_requests",
            "HTTP requests answered.",
            ["route", "method", "dialect", "status"],
            plain=plain,
        )
        self.request_seconds = _histogram(
            reg,
            "ttsign_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route", "dialect"],
            buckets=_REQUEST_BUCKETS,
            plain=plain,
        )
        self.signing_seconds = Histogram(
            "ttsign_signing_duration_seconds",
            "Time to sign one request (X-Bogus, X-Gnarly, msToken).",
            ["operation"],
            buckets=_SIGNING_BUCKETS,
            registry=reg,
        )
        self.upstream_refusals = Counter(
            "ttsign_upstream_refusals", "Answers carrying a TikTok refusal, by reason.", ["reason"], registry=reg
        )
        self.upstream_retries = Counter(
            "ttsign_upstream_retries", "Retries of transient TikTok faults.", ["step", "reason"], registry=reg
        )
        self.rate_limited = Counter(
            "ttsign_rate_limited", "Requests refused by a rate limit, by window.", ["window"], registry=reg
        )
        self.identity_pool_size = Gauge(
            "ttsign_identity_pool_size", "Warm TikTok identities.", registry=reg, multiprocess_mode="livesum"
        )
        self.breakers_open = Gauge(
            "ttsign_breakers_open", "Circuit breakers open now.", ["scope"], registry=reg, multiprocess_mode="livesum"
        )
        self.breaker_transitions = Counter(
            "ttsign_breaker_transitions", "Circuit breaker state changes.", ["scope", "state"], registry=reg
        )
        self.connect_outcomes = _counter(
            reg,
            "ttsign_connect_strategy_outcomes",
            "Connect attempts by strategy (direct, fetch) and outcome (served, or the refusal reason).",
            ["strategy", "outcome"],
            plain=plain,
        )
        self.relay_rooms = Gauge(
            "ttsign_relay_rooms", "Rooms the event relay serves now.", registry=reg, multiprocess_mode="livesum"
        )
        self.relay_consumers = Gauge(
            "ttsign_relay_consumers",
            "Relay consumers connected now (WebSockets, event streams, relay-mode clients).",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.relay_upstream_sockets = Counter(
            "ttsign_relay_upstream_sockets", "TikTok push sockets the relay opened.", registry=reg
        )
        self.relay_consumer_closes = Counter(
            "ttsign_relay_consumer_closes",
            "Relay consumers the relay ended, by close code (4005 stream end, 4008 too slow, 4500 TikTok gone...).",
            ["code"],
            registry=reg,
        )

    def exposition(self) -> bytes:
        """The Prometheus text format: this process's samples, or every worker's in multiprocess mode."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    def signing_timer(self, operation: str) -> Callable[[float], None]:
        return self.signing_seconds.labels(operation).observe


def _counter(
    registry: CollectorRegistry, name: str, documentation: str, labels: list[str], *, plain: bool
) -> Counter | PlainCounter:
    if not plain:
        return Counter(name, documentation, labels, registry=registry)
    counter = PlainCounter(name, documentation, labels)
    registry.register(counter)
    return counter


def _histogram(
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    labels: list[str],
    *,
    buckets: tuple[float, ...],
    plain: bool,
) -> Histogram | PlainHistogram:
    if not plain:
        return Histogram(name, documentation, labels, buckets=buckets, registry=registry)
    histogram = PlainHistogram(name, documentation, labels, buckets)
    registry.register(histogram)
    return histogram


def timed(function: Callable[P, R], observe: Callable[[float], None]) -> Callable[P, R]:
    """`function`, reporting each call's duration (seconds) to `observe`."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            observe(time.perf_counter() - started)

    return wrapper


@contextlib.contextmanager
def shared_directory() -> Iterator[None]:
    """For a parent about to fork workers: a private multiprocess directory (unless one is configured)."""
    if multiprocess_dir() is not None:
        yield
        return
    directory = tempfile.mkdtemp(prefix="ttsign-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (its counters stay: they are history)."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
