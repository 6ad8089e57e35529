"""How long a stop took, and what a slow one waits on. A leader's stop must hand the Lease
over within seconds (a rolling update's standby waits for it), so every stop logs one
line with the time each step took (kopf, work in flight, the watches, the Lease), and a
stop still under way after SLOW_STOP_SECONDS names, once, the tasks it is waiting on:
each task's name and the line its innermost coroutine is suspended at."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

logger = logging.getLogger("causeway.operator")

SLOW_STOP_SECONDS = 1.5
TICK = 0.1


class StopTimer:
    """The steps of one stop, timed on `monotonic` from `begin()` (the signal, or the
    Lease lost): `step(name)` closes a step, `summary()` says them all."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self.began_at: float | None = None
        self.began = asyncio.Event()
        self._last = 0.0
        self._steps: list[tuple[str, float]] = []
        self.finished = False

    def begin(self) -> None:
        if self.began_at is None:
            self.began_at = self._last = self._monotonic()
            self.began.set()

    def step(self, name: str) -> None:
        """Close the step `name` now (ignored before `begin`: no stop under way)."""
        if self.began_at is None:
            return
        now = self._monotonic()
        self._steps.append((name, now - self._last))
        self._last = now

    def summary(self) -> str:
        if self.began_at is None:
            return "not stopping"
        total = self._last - self.began_at
        steps = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in self._steps)
        return f"{total:.2f}s ({steps})" if steps else f"{total:.2f}s"


def where(task: asyncio.Task[object]) -> str:
    """A task's name and the line its innermost coroutine is suspended at."""
    frames = task.get_stack()
    if not frames:
        return task.get_name()
    frame = frames[-1]
    code = frame.f_code
    return f"{task.get_name()} ({Path(code.co_filename).name}:{frame.f_lineno} {code.co_name})"


def waiting_on(tasks: Iterable[asyncio.Task[object]]) -> str:
    return "; ".join(sorted(where(task) for task in tasks if not task.done()))


async def report_slow_stop(
    timer: StopTimer, seconds: float = SLOW_STOP_SECONDS, tick: float = TICK
) -> None:
    """Once a stop has begun and is still under way `seconds` later, log what it waits
    on. Plain sleeps, no helper tasks: a stop cancels every task created while kopf
    ran (causeway.kopf_run), and this one, started before, reports on them."""
    await timer.began.wait()
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not timer.finished and loop.time() - started < seconds:
        await asyncio.sleep(tick)
    if timer.finished:
        return
    me = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not me]
    logger.warning(
        "Still stopping after %.1fs; waiting on: %s",
        loop.time() - started,
        waiting_on(others) or "no task (a blocking call on the loop)",
    )
