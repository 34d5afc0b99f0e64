"""The relay keeps its consumers' long-lived objects out of full collections (relay/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tests.relay.fakes import FakeLink, FakeUpstream
from tests.relay.test_session import FAST, join
from ttsign.relay.heap import FrozenConsumers
from ttsign.relay.hub import Relay

pytestmark = pytest.mark.timeout(10)


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    gc.collect()
    gc.unfreeze()  # the test measures its own freezes; whatever the session froze before is put back after
    yield
    gc.unfreeze()
    gc.collect()


def test_a_batch_of_joins_freezes_what_is_alive() -> None:
    heap = FrozenConsumers(freeze_after=3, unfreeze_after=2)
    before = gc.get_freeze_count()
    heap.joined()
    heap.joined()
    assert gc.get_freeze_count() == before  # not yet: a batch is three joins
    alive = [Cycle() for _ in range(100)]
    heap.joined()
    assert gc.get_freeze_count() >= before + len(alive)
    assert heap.freezes == 1


def test_leaves_collect_the_frozen_garbage_then_freeze_what_remains() -> None:
    heap = FrozenConsumers(freeze_after=1, unfreeze_after=2)
    departed = [Cycle() for _ in range(50)]
    heap.joined()  # frozen with the objects of consumers that will leave
    frozen = gc.get_freeze_count()
    del departed  # cycles: reference counting cannot free them, and a frozen cycle is never collected
    gc.collect()
    assert gc.get_freeze_count() > frozen - 50  # (the list itself went by reference counting)
    heap.left(remaining=10)
    assert heap.collections == 0  # one leave is not yet worth a full collection
    heap.left(remaining=10)
    assert heap.collections == 1
    assert gc.get_freeze_count() <= frozen - 50  # the departed cycles were collected, not frozen again


def test_a_quarter_of_the_live_consumers_must_leave_before_a_collection() -> None:
    heap = FrozenConsumers(freeze_after=1, unfreeze_after=2)
    heap.joined()
    for _ in range(9):
        heap.left(remaining=40)
    assert heap.collections == 0  # 9 < 40 // 4
    heap.left(remaining=40)
    assert heap.collections == 1
    heap.left(remaining=0)  # the last one leaves: the rest are garbage now, collected at once
    assert heap.collections == 2
    heap.left(remaining=0)  # nothing frozen since: no collection for nothing
    assert heap.collections == 2


async def test_the_relay_reports_joins_and_leaves_to_its_heap_pacing() -> None:
    heap = FrozenConsumers(freeze_after=2, unfreeze_after=64)
    relay = Relay(FakeUpstream(FakeLink()), FAST, heap=heap)
    first, second = await join(relay), await join(relay)
    assert heap.freezes == 1
    relay.leave(first)
    assert heap.collections == 0
    relay.leave(second)  # the last consumer: the frozen garbage is collected
    assert heap.collections == 1
    await relay.close()
