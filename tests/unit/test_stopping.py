"""A stop's timing line and the report of what a slow stop waits on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from causeway.controllers.stopping import StopTimer, report_slow_stop, waiting_on


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_summary_times_each_step_from_the_stop() -> None:
    clock = Clock()
    timer = StopTimer(clock)
    timer.step("ignored: no stop under way")
    assert timer.summary() == "not stopping"
    timer.begin()
    clock.now += 0.25
    timer.step("kopf")
    clock.now += 4.5
    timer.begin()  # a second signal does not restart the count
    timer.step("work in flight")
    clock.now += 0.05
    timer.step("Lease handed back")
    assert timer.summary() == "4.80s (kopf 0.25s, work in flight 4.50s, Lease handed back 0.05s)"


async def test_a_slow_stop_names_the_tasks_it_waits_on(caplog: pytest.LogCaptureFixture) -> None:
    timer = StopTimer(Clock())
    hung = asyncio.Event()

    async def stuck_in_flight() -> None:
        await hung.wait()

    stuck = asyncio.create_task(stuck_in_flight(), name="region-us-east-1")
    caplog.set_level(logging.WARNING, "causeway.operator")
    report = asyncio.create_task(report_slow_stop(timer, seconds=0.05, tick=0.01))
    await asyncio.sleep(0.03)
    assert not caplog.records  # no stop yet
    timer.begin()
    await asyncio.wait_for(report, 1)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "Still stopping after" in record.getMessage()
    assert "region-us-east-1 (test_stopping.py:" in record.getMessage()
    assert "stuck_in_flight" in record.getMessage()
    stuck.cancel()


async def test_a_stop_that_finishes_in_time_reports_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    timer = StopTimer(Clock())
    caplog.set_level(logging.WARNING, "causeway.operator")
    # The stop finishes long before `seconds` could pass, however slow the loop.
    report = asyncio.create_task(report_slow_stop(timer, seconds=60, tick=0.01))
    timer.begin()
    await asyncio.sleep(0)
    timer.finished = True
    await asyncio.wait_for(report, 1)
    assert not caplog.records


async def test_finished_tasks_are_not_named() -> None:
    async def quick() -> None:
        return None

    done = asyncio.create_task(quick(), name="done-already")
    await done
    assert waiting_on([done]) == ""
