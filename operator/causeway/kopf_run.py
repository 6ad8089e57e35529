"""Runs kopf while this replica acts, orchestrated through kopf's public `spawn_tasks`:
kopf's root tasks (its watchers with their per-object workers, its login) run until
the stop flag is set and are then stopped and awaited, as `kopf.operator` does. What
`kopf.operator` also does, and this does not: after its roots, it waits up to 5 s for
every task created on the loop while it ran, then cancels them. Those are kopf's own
strays (its API discovery runs its requests as tasks that outlive their caller, and
retry against a closed connector for seconds) but also Causeway's controllers' work in
flight, which the operator gives its own bound. That wait held a leader's stop, and so
the Lease's release, for 5 s. Here the tasks kopf's run left behind are handed back
(`leftovers`) for the operator to cancel once its own work in flight has had its time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import kopf

LoginFn = Callable[..., Awaitable[kopf.ConnectionInfo | None] | kopf.ConnectionInfo | None]


class KopfRun:
    """kopf with the same login each time it runs, telling `ready_flag` (and calling
    `on_ready`) once kopf is up."""

    def __init__(
        self,
        login: LoginFn | None,
        ready_flag: asyncio.Event | threading.Event | None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.login = login
        self._ready_flag = ready_flag
        self._on_ready = on_ready
        self._before: set[asyncio.Task[object]] | None = None  # kopf has not run

    async def run(
        self, registry: kopf.OperatorRegistry, settings: kopf.OperatorSettings, stop: asyncio.Event
    ) -> None:
        """Run kopf until `stop` is set (or a root task fails: its error is raised)."""
        kopf_ready = asyncio.Event()
        started = asyncio.create_task(self._when_ready(kopf_ready), name="operator readiness")
        self._before = asyncio.all_tasks()
        try:
            roots = await kopf.spawn_tasks(
                registry=registry,
                settings=settings,
                clusterwide=True,
                standalone=True,
                stop_flag=stop,
                ready_flag=kopf_ready,
            )
            await run_roots(roots)
        finally:
            started.cancel()

    def leftovers(self) -> set[asyncio.Task[object]]:
        """The tasks created on the loop since kopf last started that still run."""
        if self._before is None:
            return set()
        current = asyncio.current_task()
        return {
            task
            for task in asyncio.all_tasks()
            if task not in self._before and task is not current and not task.done()
        }

    async def _when_ready(self, kopf_ready: asyncio.Event) -> None:
        await kopf_ready.wait()
        if self._on_ready is not None:
            self._on_ready()
        if self._ready_flag is not None:
            self._ready_flag.set()


async def run_roots(roots: Collection[asyncio.Task[Any]]) -> None:
    """kopf's root tasks never end by themselves but one: its stop-flag checker, once the
    flag is set, or any of them failing. Then every root is cancelled and awaited (their
    own clean-up stops their sub-tasks: a watcher lets its workers finish, bounded by
    kopf's `queueing.exit_timeout`), and a root's error is raised."""
    try:
        done, pending = await asyncio.wait(roots, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await _cancel(roots)
        raise
    await _cancel(pending)
    for task in (*done, *pending):
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


async def cancel_leftovers(tasks: set[asyncio.Task[object]], timeout: float) -> None:
    """Cancel `tasks` and wait at most `timeout` for them to end."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)


async def _cancel(tasks: Collection[asyncio.Task[Any]]) -> None:
    """Cancel the roots and wait until they have stopped, also when cancelled meanwhile
    (then raised after): their clean-up is what ends kopf's writes."""
    for task in tasks:
        task.cancel()
    cancelled = False
    while not all(task.done() for task in tasks):
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
