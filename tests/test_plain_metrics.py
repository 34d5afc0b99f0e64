"""Plain counters and histograms expose exactly what prometheus-client's own classes expose for the same
samples (every line but the creation times), and refuse what the library refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values

from ttsign.metrics import Metrics
from ttsign.plain_metrics import PlainCounter, PlainHistogram

BUCKETS = (0.001, 0.0025, 0.01, 0.5, 2.5)
# On a bound, between bounds, below the first, past the last, and repeated.
SECONDS = (0.0, 0.0005, 0.001, 0.002, 0.0025, 0.0026, 0.01, 0.3, 0.5, 2.5, 3.0, 100.0, 0.002)
_CREATED = re.compile(rb"^\S+_created\{.*$", re.MULTILINE)


def _exposition(registry: CollectorRegistry) -> bytes:
    return _CREATED.sub(b"", generate_latest(registry))  # creation times differ by the microsecond


def _feed(counter: Counter | PlainCounter, histogram: Histogram | PlainHistogram) -> None:
    counter.labels("/webcast/fetch", "200").inc()
    counter.labels("/webcast/fetch", "200").inc(2.5)
    counter.labels("/webcast/sign_url", "429").inc()
    for n, seconds in enumerate(SECONDS):
        histogram.labels("/webcast/fetch" if n % 2 else "/webcast/sign_url").observe(seconds)


def test_the_exposition_is_the_librarys_sample_for_sample() -> None:
    library, plain = CollectorRegistry(), CollectorRegistry()
    _feed(
        Counter("t_requests", "Requests.", ["route", "status"], registry=library),
        Histogram("t_seconds", "Latency.", ["route"], buckets=BUCKETS, registry=library),
    )
    counter = PlainCounter("t_requests", "Requests.", ["route", "status"])
    histogram = PlainHistogram("t_seconds", "Latency.", ["route"], BUCKETS)
    plain.register(counter)
    plain.register(histogram)
    _feed(counter, histogram)
    ours = _exposition(plain)
    assert b't_seconds_bucket{le="0.0025",route="/webcast/fetch"}' in ours  # there is something to compare
    assert ours == _exposition(library)
    created = [line for line in generate_latest(plain).splitlines() if b"_created{" in line]
    assert len(created) == 4  # one per child, as the library writes them


def test_an_unused_metric_exposes_its_family_and_no_samples_like_the_librarys() -> None:
    library, plain = CollectorRegistry(), CollectorRegistry()
    Counter("t_requests", "Requests.", ["route"], registry=library)
    Histogram("t_seconds", "Latency.", ["route"], buckets=BUCKETS, registry=library)
    plain.register(PlainCounter("t_requests", "Requests.", ["route"]))
    plain.register(PlainHistogram("t_seconds", "Latency.", ["route"], BUCKETS))
    assert generate_latest(plain) == generate_latest(library)


def test_wrong_labels_and_negative_counts_are_refused_and_names_cannot_be_registered_twice() -> None:
    counter = PlainCounter("t_requests", "Requests.", ["route", "status"])
    with pytest.raises(ValueError, match="labels"):
        counter.labels("/only-one")
    with pytest.raises(ValueError, match="non-negative"):
        counter.labels("/x", "200").inc(-1)
    registry = CollectorRegistry()
    registry.register(counter)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("t_requests", "Again.", registry=registry)


def test_one_process_uses_plain_values_and_workers_use_the_librarys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert isinstance(Metrics().requests, PlainCounter)
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # Metrics() switches it: restored afterwards
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    shared = Metrics()
    assert isinstance(shared.requests, Counter) and isinstance(shared.request_seconds, Histogram)
    assert isinstance(shared.connect_outcomes, Counter)
