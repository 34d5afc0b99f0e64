"""Counters and histograms kept as plain numbers, for the metrics every request adds to.

prometheus-client's own `inc` and `observe` each check the metric, take a lock and walk the buckets in
Python: for the three samples a connect adds (its request, its latency, its strategy's outcome) that was
5% of a direct connect's instructions (benchmarks/connect_instructions.py). Here a child is a slot or two
added to directly, and the registry reads them only when scraped, through `collect`. The exposition is the
library's, sample for sample (tests/test_plain_metrics.py compares the two).

They are added to from the event loop's thread only (the middleware and the connect service), so they need
no lock. With several worker processes the samples must reach prometheus-client's shared directory, which
only the library's own values write: metrics.py then uses the library's classes instead.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Generic, Protocol, TypeVar

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class Increments(Protocol):
    """A counter's child, the library's or a CountCell."""

    def inc(self, amount: float = 1.0) -> None: ...


class Observes(Protocol):
    """A histogram's child, the library's or a SpreadCell."""

    def observe(self, amount: float) -> None: ...


class CountCell:
    """One labelled child of a counter."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self.value += amount


class SpreadCell:
    """One labelled child of a histogram: a count per bucket (not cumulative; the last is +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.sum += amount
        self.counts[bisect_left(self.bounds, amount)] += 1  # the first bound >= amount: Prometheus's `le`


Cell = TypeVar("Cell", CountCell, SpreadCell)


class _Labelled(Generic[Cell]):
    """A metric's name, help and label names, and its children by label values."""

    def __init__(self, name: str, documentation: str, label_names: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = tuple(label_names)
        self._children: dict[tuple[str, ...], Cell] = {}

    def labels(self, *values: str) -> Cell:
        """The child for these label values, made on first use, as the library's `labels` does."""
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.label_names):
                raise ValueError(f"{self.name} takes labels {self.label_names}, got {len(values)} values")
            child = self._children[values] = self._new_child()
        return child

    def describe(self) -> list[Metric]:
        """The family without samples, for the registry's duplicate check."""
        return [self._family()]

    def _new_child(self) -> Cell:
        raise NotImplementedError

    def _family(self) -> Metric:
        raise NotImplementedError


class PlainCounter(_Labelled[CountCell]):
    """A labelled counter; `labels(...)` gives a child to `inc`, as prometheus-client's Counter does."""

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for values, child in list(self._children.items()):
            family.add_metric(values, child.value, created=child.created)
        yield family

    def _new_child(self) -> CountCell:
        return CountCell()

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self.name, self.documentation, labels=self.label_names)


class PlainHistogram(_Labelled[SpreadCell]):
    """A labelled histogram; `labels(...)` gives a child to `observe`, as prometheus-client's Histogram does."""

    def __init__(self, name: str, documentation: str, label_names: Sequence[str], buckets: Sequence[float]) -> None:
        super().__init__(name, documentation, label_names)
        self.bounds = tuple(sorted(float(b) for b in buckets if b != float("inf")))

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        uppers = [floatToGoString(bound) for bound in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        for values, child in list(self._children.items()):
            cumulative, buckets = 0, []
            for upper, count in zip(uppers, list(child.counts), strict=True):
                cumulative += count
                buckets.append((upper, float(cumulative)))
            family.add_metric(values, buckets, child.sum)
            family.add_sample(f"{self.name}_created", dict(zip(self.label_names, values, strict=True)), child.created)
        yield family

    def _new_child(self) -> SpreadCell:
        return SpreadCell(self.bounds)

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
