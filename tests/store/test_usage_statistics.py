"""The SQLite usage store keeps table statistics, so the console's per-key totals need no full-table scan."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ttsign.store.usage import HOUR_S, UsageBatch
from ttsign.store.usage_sqlite import SqliteUsageStore

TOTALS = "SELECT subject, counter, SUM(count) FROM usage_hours WHERE start >= ? GROUP BY subject, counter"


async def test_pruning_refreshes_the_statistics_the_totals_query_is_planned_with(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    store = SqliteUsageStore(path)
    now = int(time.time())
    batch = UsageBatch()
    for subject in range(300):
        for hour in range(72):
            batch.minutes[(f"key:{subject:04d}", "requests", now - now % HOUR_S - hour * HOUR_S)] += 1
    await store.add(batch)
    day = now - now % 86400
    with sqlite3.connect(path) as before:
        plan = " ".join(str(row[-1]) for row in before.execute(f"EXPLAIN QUERY PLAN {TOTALS}", (day,)))
    assert plan.startswith("SCAN usage_hours")  # no statistics yet: the whole table is read
    await store.prune(now)
    await store.close()
    with sqlite3.connect(path) as after:
        tables = {row[0] for row in after.execute("SELECT tbl FROM sqlite_stat1")}
        plan = " ".join(str(row[-1]) for row in after.execute(f"EXPLAIN QUERY PLAN {TOTALS}", (day,)))
    assert "usage_hours" in tables
    assert not plan.startswith("SCAN usage_hours"), plan
