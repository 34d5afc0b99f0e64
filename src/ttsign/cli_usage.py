"""`ttsign usage [KEY_ID] [--json]`: what each caller used, from the usage store the server writes.

Without a key id: every caller's totals for today and the last 30 days. With one: that key's hours of the
last day, its minutes of the last two hours and its top rooms. `--json` prints the same as one document.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Column, Table

from ttsign.cli_keys import err, fail, out, store_description

if TYPE_CHECKING:
    from ttsign.config import Settings
    from ttsign.service.usage import UsageReport, UsageSeries


def _iso(start: int) -> str:
    return datetime.fromtimestamp(start, UTC).isoformat().replace("+00:00", "Z")


def usage(
    key_id: Annotated[
        str | None, typer.Argument(help="A key id (from `ttsign keys list`); omit for every caller.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Usage per caller: requests, connects, signatures and refusals by reason (per minute and per hour)."""
    from ttsign.config import ConfigFileError, Settings

    try:
        settings = Settings()
    except (ConfigFileError, ValueError) as exc:
        fail(f"invalid configuration: {exc}")
    err.print(f"usage store: {store_description(settings)}", markup=False)
    document = asyncio.run(_gather(settings, key_id))
    if as_json:
        out.print_json(json.dumps(document))
    elif key_id is None:
        _print_callers(document["callers"])
    else:
        _print_key(document)


async def _gather(settings: Settings, key_id: str | None) -> dict[str, Any]:
    from ttsign.service.usage import UsageReport
    from ttsign.store.backends import open_usage_store
    from ttsign.store.base import StoreUnavailable

    store = open_usage_store(
        store_path=settings.store_path,
        redis_url=settings.redis_url,
        prefix=settings.redis_key_prefix,
        timeout_s=settings.redis_timeout_s,
    )
    try:
        report = UsageReport(store)
        if key_id is None:
            return await _callers(report)
        return await _key(report, key_id)
    except StoreUnavailable as exc:
        fail(f"the usage store did not answer: {exc}", code=1)
    finally:
        await store.close()


async def _callers(report: UsageReport) -> dict[str, Any]:
    today, month = await report.totals(days=1), await report.totals(days=30)
    callers = [
        {"caller": subject, "today": today.get(subject, {}), "last_30_days": counts}
        for subject, counts in sorted(month.items(), key=lambda kv: -kv[1].get("requests", 0))
    ]
    return {"callers": callers}


async def _key(report: UsageReport, key_id: str) -> dict[str, Any]:
    caller = key_id if key_id.startswith(("key:", "anon:")) else f"key:{key_id}"

    def rows(series: list[UsageSeries]) -> list[dict[str, Any]]:
        by_start: dict[int, dict[str, int]] = {}
        for one in series:
            for start, count in zip(one.starts, one.counts, strict=True):
                if count:
                    by_start.setdefault(start, {})[one.counter] = count
        return [{"start": _iso(start), **counts} for start, counts in sorted(by_start.items())]

    hours = rows(await report.series(caller, "hour"))
    return {
        "caller": caller,
        "hours": hours[-24:],
        "minutes": rows(await report.series(caller, "minute")),
        "top_rooms": [{"room_id": room, "count": n} for room, n in await report.top_rooms(caller)],
    }


def _refused(counts: dict[str, int]) -> int:
    return sum(n for counter, n in counts.items() if counter.startswith("refused:"))


def _print_callers(callers: list[dict[str, Any]]) -> None:
    table = Table(
        Column("caller", no_wrap=True),
        "requests today",
        "requests 30 d",
        "connects 30 d",
        "signatures 30 d",
        "refused 30 d",
    )
    for row in callers:
        month = row["last_30_days"]
        table.add_row(
            row["caller"],
            str(row["today"].get("requests", 0)),
            str(month.get("requests", 0)),
            str(month.get("connects", 0)),
            str(month.get("signatures", 0)),
            str(_refused(month)),
        )
    out.print(table if callers else "no usage recorded yet")


def _print_key(document: dict[str, Any]) -> None:
    for title, rows in (
        ("last 24 hours, per hour", document["hours"]),
        ("last 2 hours, per minute", document["minutes"]),
    ):
        counters = sorted({name for row in rows for name in row if name != "start"})
        table = Table(Column("start (UTC)", no_wrap=True), *counters, title=f"{document['caller']}: {title}")
        for row in rows:
            table.add_row(row["start"], *(str(row.get(name, 0)) for name in counters))
        out.print(table if rows else f"{document['caller']}: nothing in the {title.split(',')[0]}")
    rooms = Table(Column("room", no_wrap=True), "connects", title="top rooms (30 days)")
    for room in document["top_rooms"]:
        rooms.add_row(room["room_id"], str(room["count"]))
    out.print(rooms)
