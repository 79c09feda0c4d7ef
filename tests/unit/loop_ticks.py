"""How often another task ran on the event loop while an awaitable ran (slicing tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def ticks_during(work: Awaitable[T]) -> tuple[T, int]:
    """Await ``work`` beside a task that counts one tick per turn it gets; return the
    result and the ticks: 0 when ``work`` never yielded to the loop."""
    done, ticks = asyncio.Event(), 0

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    result = await work
    during = ticks
    done.set()
    await task
    return result, during
