"""Usage accounting: counted in memory, flushed in batches, kept through a store outage, addresses hashed."""

from __future__ import annotations

import asyncio

from ttsign.service.usage import UsageRecorder, UsageReport, subject_of
from ttsign.store.base import StoreUnavailable
from ttsign.store.usage import MemoryUsageStore, UsageBatch

T0 = 1_900_000_000 - 1_900_000_000 % 3600  # the start of an hour


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FlakyStore(MemoryUsageStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.writes = 0

    async def add(self, batch: UsageBatch) -> None:
        if self.down:
            raise StoreUnavailable("redis add: ConnectionError")
        self.writes += 1
        await super().add(batch)


async def test_counts_reach_the_store_only_when_flushed_in_one_batch() -> None:
    store, clock = FlakyStore(), Clock(T0 + 30)
    recorder = UsageRecorder(store, clock=clock)
    for _ in range(3):
        recorder.count("key:a1", "requests")
    recorder.count("key:a1", "connects", room="111")
    clock.now = T0 + 90
    recorder.count("key:a1", "requests")
    assert await store.series("key:a1", "minute", 0) == []  # nothing written yet
    assert await recorder.flush() and store.writes == 1
    report = UsageReport(store, clock=clock)
    minutes = {s.counter: s for s in await report.series("key:a1", "minute")}
    assert minutes["requests"].counts[-2:] == [3, 1] and minutes["requests"].starts[-1] == T0 + 60
    assert len(minutes["requests"].starts) == 120  # two hours of minutes, zeros filled in
    assert await report.top_rooms("key:a1") == [("111", 1)]


async def test_an_outage_keeps_the_counts_for_the_next_flush() -> None:
    store, clock = FlakyStore(), Clock(T0)
    recorder = UsageRecorder(store, clock=clock)
    recorder.count("key:a1", "requests")
    store.down = True
    assert not await recorder.flush()
    recorder.count("key:a1", "requests")
    store.down = False
    assert await recorder.flush()
    assert (await store.totals(T0))["key:a1"]["requests"] == 2


async def test_anonymous_addresses_are_kept_only_as_digests() -> None:
    store = MemoryUsageStore()
    recorder = UsageRecorder(store, clock=Clock(T0))
    recorder.count("anon:203.0.113.9", "requests")
    await recorder.flush()
    (subject,) = (await store.totals(T0)).keys()
    assert subject.startswith("anon:") and "203.0.113.9" not in subject and subject == subject_of("anon:203.0.113.9")
    assert subject_of("key:a1") == "key:a1"


async def test_running_flushes_in_the_background_and_at_the_end() -> None:
    store = FlakyStore()
    recorder = UsageRecorder(store, flush_every_s=0.01)
    async with recorder.running():
        recorder.count("key:a1", "requests")
        for _ in range(200):
            if store.writes:
                break
            await asyncio.sleep(0.01)
        assert store.writes == 1
        recorder.count("key:a1", "requests")
    assert sum(p.count for p in await store.series("key:a1", "minute", 0)) == 2


async def test_a_minute_flushed_partway_adds_up_across_flushes() -> None:
    store, clock = FlakyStore(), Clock(T0 + 10)
    recorder = UsageRecorder(store, clock=clock)
    recorder.count("anon:203.0.113.9", "requests", "connects", room="111")
    assert await recorder.flush()
    clock.now = T0 + 50  # the same minute, after the flush
    recorder.count("anon:203.0.113.9", "requests", "connects", room="111")
    recorder.count("anon:203.0.113.9", "requests", "connects", room="222")
    clock.now = T0 + 3600 + 5  # the next hour: its rooms are a bucket of their own
    recorder.count("anon:203.0.113.9", "connects", room="111")
    assert await recorder.flush() and store.writes == 2
    subject = subject_of("anon:203.0.113.9")
    minutes = {(p.start, p.counter): p.count for p in await store.series(subject, "minute", 0)}
    assert minutes == {(T0, "requests"): 3, (T0, "connects"): 3, (T0 + 3600, "connects"): 1}
    assert await UsageReport(store, clock=clock).top_rooms("anon:203.0.113.9") == [("111", 3), ("222", 1)]
