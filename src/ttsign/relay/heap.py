"""Keep the relay's long-lived consumer objects out of the garbage collector's full passes.

Each open consumer socket holds a few hundred container objects (its protocol, parser, tasks, queue) for
minutes or hours. With a thousand of them, CPython's full collections walk 200,000 objects and stop the
event loop for 30-120 ms: every consumer's next frame waits that long (the fan-out's p99 delay). Freezing
moves the objects alive at that moment to the permanent generation, which collections skip, and costs
O(1). Objects still die by reference counting; only reference cycles among frozen objects wait for the
next unfreeze. So a connect storm is frozen in batches, and after enough consumers have left (their
sockets' cycles are now frozen garbage), or when the last one leaves, the heap is unfrozen, collected once
(the one full pause the collector would have taken anyway) and frozen again: what is still alive, the
server's start-up objects among them (api/server.py freezes those), stays out of later passes.
"""

from __future__ import annotations

import gc
from typing import Protocol

FREEZE_AFTER_JOINS = 32  # consumers joined since the last freeze (a connect storm is frozen in batches)
# Consumers left since the last collection, at least, before the frozen garbage is collected; and at least a
# quarter of those still connected (CPython's own rule for full passes), so a mass disconnect costs a few
# collections, not one every 64 leaves, and the frozen garbage stays under a quarter of the live heap.
UNFREEZE_AFTER_LEAVES = 64


class HeapPacing(Protocol):
    def joined(self) -> None: ...

    def left(self, remaining: int) -> None: ...


class Unpaced:
    """The collector left alone (tests, and relays that embed in a process with its own policy)."""

    def joined(self) -> None:
        return None

    def left(self, remaining: int) -> None:
        return None


class FrozenConsumers:
    """Freeze after every `freeze_after` joins; collect the frozen garbage after `unfreeze_after` leaves."""

    def __init__(self, freeze_after: int = FREEZE_AFTER_JOINS, unfreeze_after: int = UNFREEZE_AFTER_LEAVES) -> None:
        self._freeze_after = freeze_after
        self._unfreeze_after = unfreeze_after
        self._joins = 0
        self._leaves = 0
        self._frozen = False  # froze consumers since the last collection
        self.freezes = 0
        self.collections = 0

    def joined(self) -> None:
        self._joins += 1
        if self._joins >= self._freeze_after:
            self._joins = 0
            gc.freeze()
            self._frozen = True
            self.freezes += 1

    def left(self, remaining: int) -> None:
        self._leaves += 1
        due = self._leaves >= max(self._unfreeze_after, remaining // 4)
        if self._frozen and (due or remaining == 0):
            self._leaves = 0
            self._joins = 0
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._frozen = remaining > 0
            self.collections += 1
