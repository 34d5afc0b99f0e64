"""Background loops that live as long as a context (the app's lifespan): started on entry, cancelled and
awaited on exit, so none outlives the server or is left pending at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def running_in_background(*loops: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run each of `loops` as a task for as long as the context lasts."""
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # a loop that failed must not stop the shutdown
