"""kopf run through its public spawn_tasks: its roots are stopped and awaited at the
stop, a root's failure is raised, and the tasks its run left behind are handed back to
be cancelled, never waited on (kopf.operator waits 5 s for them)."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf
import pytest

from causeway.kopf_run import KopfRun, cancel_leftovers, run_roots


class FakeKopf:
    """Stands in for kopf.spawn_tasks: a stop-flag checker root, a watcher root whose
    clean-up takes a moment (as a watcher lets its workers finish), and a stray task
    the watcher starts and never awaits (as kopf's API discovery does)."""

    def __init__(self) -> None:
        self.cleaned_up = False
        self.stray: asyncio.Task[None] | None = None
        self.stray_started = asyncio.Event()

    async def spawn_tasks(self, *, stop_flag: asyncio.Event, **_: Any) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(stop_flag.wait(), name="stop-flag checker"),  # type: ignore[arg-type]
            asyncio.create_task(self._watcher(), name="watcher"),
        ]

    async def _watcher(self) -> None:
        self.stray = asyncio.create_task(asyncio.sleep(60), name="stray discovery")
        self.stray_started.set()
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.01)
            self.cleaned_up = True


@pytest.fixture
def fake_kopf(monkeypatch: pytest.MonkeyPatch) -> FakeKopf:
    fake = FakeKopf()
    monkeypatch.setattr(kopf, "spawn_tasks", fake.spawn_tasks)
    return fake


async def test_a_stop_awaits_the_roots_but_not_what_they_left_behind(fake_kopf: FakeKopf) -> None:
    before = asyncio.create_task(asyncio.sleep(60), name="started before kopf")
    run = KopfRun(login=None, ready_flag=None)
    stop = asyncio.Event()
    running = asyncio.create_task(run.run(kopf.OperatorRegistry(), kopf.OperatorSettings(), stop))
    await fake_kopf.stray_started.wait()
    stop.set()
    await asyncio.wait_for(running, 1)
    assert fake_kopf.cleaned_up  # the roots' clean-up ran before run() returned
    stray = fake_kopf.stray
    assert stray is not None and not stray.done()  # not waited on
    leftovers = run.leftovers()
    assert stray in leftovers and before not in leftovers
    await cancel_leftovers(leftovers, timeout=1)
    assert stray.cancelled()
    assert not before.done()
    before.cancel()


async def test_nothing_is_left_over_before_kopf_ever_ran() -> None:
    assert KopfRun(login=None, ready_flag=None).leftovers() == set()


async def test_a_failing_root_stops_the_others_and_its_error_is_raised() -> None:
    stopped: list[str] = []

    async def failing() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("watcher broke")

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.append("other root")

    roots = [asyncio.create_task(failing()), asyncio.create_task(forever())]
    with pytest.raises(RuntimeError, match="watcher broke"):
        await run_roots(roots)
    assert stopped == ["other root"]


async def test_cancelled_while_the_roots_stop_it_lets_them_finish_then_raises() -> None:
    finished: list[str] = []

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.05)  # a watcher's workers finishing
            finished.append("root")

    roots = [asyncio.create_task(slow_to_stop())]
    running = asyncio.create_task(run_roots(roots))
    await asyncio.sleep(0.01)
    running.cancel()  # the stop: roots are cancelled and awaited
    await asyncio.sleep(0.01)
    running.cancel()  # a second one while they stop
    with pytest.raises(asyncio.CancelledError):
        await running
    assert finished == ["root"]
