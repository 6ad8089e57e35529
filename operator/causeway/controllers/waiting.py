"""Waiting in the controllers' loops: for whichever of several things comes first
(work, the stop signal, a timeout), leaving nothing running behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any


async def until(
    stopped: asyncio.Event, waiting: Awaitable[Any], timeout: float | None = None
) -> None:
    """Wait for `waiting`, `stopped` or the timeout, whichever comes first."""
    waiter = asyncio.ensure_future(waiting)
    stopper = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, stopper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
