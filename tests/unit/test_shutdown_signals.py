"""A bounded graceful stop. The first SIGTERM closes the AWS budget at once (thousands
of queued calls fail unsent instead of being served one token at a time), the calls
already sent get a bounded time to answer, then the Lease is handed back; a second
SIGTERM still hands the Lease back (if held) before the process exits. Budgets run on
the fake clock of test_budget; the Lease on the in-memory store of test_election."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
from pathlib import Path

import pytest

from causeway.controllers.budget import BucketSettings, Budget, BudgetClosedError
from causeway.controllers.leadership import RELEASE_SECONDS, Leadership
from causeway.election import Elector, Role
from causeway.fence import FencedError
from causeway.operator import IN_FLIGHT_SECONDS, Signals, wind_down
from unit.test_budget import FakeTime
from unit.test_election import Clocks, FakeLeaseStore

REPO = Path(__file__).resolve().parents[2]
SLOW = {"CreateVpcEndpoint": BucketSettings(burst=1, rate=1)}


class ExitedError(Exception):
    """Stands for os._exit in a test."""


def exit_process(signum: int) -> None:
    raise ExitedError(signum)


async def queue_up(
    budget: Budget, count: int, sent: list[int] | None = None
) -> list[asyncio.Task[str]]:
    """`count` creates waiting on a lane of one token a second (a few get through while
    they queue: the fake clock moves when the lane sleeps); `sent` lists those sent."""

    async def create(i: int) -> str:
        async def attempt() -> str:
            if sent is not None:
                sent.append(i)
            return f"vpce-{i}"

        return await budget.call("eu-west-1", "CreateVpcEndpoint", attempt, tenant=f"t{i % 7}")

    tasks = [asyncio.create_task(create(i)) for i in range(count)]
    for _ in range(5):
        await asyncio.sleep(0)
    return tasks


async def test_closing_the_budget_fails_every_queued_call_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="causeway.budget")
    clock = FakeTime()
    budget = Budget(SLOW, clock=clock, sleep=clock.sleep)
    sent: list[int] = []
    tasks = await queue_up(budget, 5000, sent)
    sent_before, clock_before = len(sent), clock.now
    budget.close()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    refused = [r for r in results if isinstance(r, BudgetClosedError)]
    assert len(sent) == sent_before < 10  # nothing sent after the close
    assert len(refused) == len(results) - sent_before
    assert clock.now == clock_before  # and no token was waited for
    assert re.search(r"AWS budget closed: 49\d\d queued calls not sent", caplog.text)
    assert isinstance(refused[0], FencedError)  # treated like a fenced call: not sent
    assert "CreateVpcEndpoint in eu-west-1 not sent: the operator is stopping" in str(refused[0])
    assert budget.lane("eu-west-1", "CreateVpcEndpoint").waiting == 0
    with pytest.raises(BudgetClosedError):  # a later call, also on a lane new since
        await budget.call("us-east-1", "DeleteVpcEndpoints", _never)


async def test_a_call_already_holding_a_token_finishes() -> None:
    budget = Budget(SLOW)
    answered = asyncio.Event()

    async def in_flight() -> str:
        await answered.wait()
        return "vpce-1"

    sent = asyncio.create_task(budget.call("eu-west-1", "CreateVpcEndpoint", in_flight))
    await asyncio.sleep(0)
    budget.close()
    answered.set()
    assert await asyncio.wait_for(sent, 1) == "vpce-1"


async def test_an_opened_budget_hands_out_tokens_again() -> None:
    budget = Budget(SLOW)
    budget.close()
    budget.open()

    async def attempt() -> str:
        return "ok"

    assert await budget.call("eu-west-1", "CreateVpcEndpoint", attempt) == "ok"


async def _never() -> None:
    raise AssertionError("sent after the budget closed")


def leader(store: FakeLeaseStore, clocks: Clocks) -> Leadership:
    elector = Elector(store, "pod-a_1", monotonic=clocks.monotonic, wall_clock=clocks.wall)
    assert elector.attempt().role is Role.LEADER
    return Leadership(elector, lease="ns/causeway-leader")


async def test_the_first_signal_closes_the_budget_in_the_handler_and_stops() -> None:
    clock = FakeTime()
    budget = Budget(SLOW, clock=clock, sleep=clock.sleep)
    sent: list[int] = []
    tasks = await queue_up(budget, 100, sent)
    sent_before = len(sent)
    stop = asyncio.Event()
    Signals(stop, budget, None, exit_process=exit_process).received(signal.SIGTERM)
    assert stop.is_set() and budget.closed
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    assert len(sent) == sent_before
    assert sum(isinstance(r, BudgetClosedError) for r in results) == 100 - sent_before


async def test_a_graceful_stop_is_bounded_and_then_releases_the_lease(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """5,000 creates queued at 1 a second and one call hung in flight: the stop takes
    the in-flight grace, not 5,000 s, and the Lease is handed back."""
    store, clocks = FakeLeaseStore(), Clocks()
    leadership = leader(store, clocks)
    budget = Budget(SLOW)
    hung = asyncio.Event()

    async def hanging() -> str:
        await hung.wait()
        return "never"

    async def controller(tasks: list[asyncio.Task[str]]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)  # as a reconciler drains

    in_flight = asyncio.create_task(budget.call("eu-west-1", "CreateVpcEndpoint", hanging))
    await asyncio.sleep(0)
    queued = await queue_up(budget, 5000)
    controllers = [asyncio.create_task(controller([in_flight, *queued]))]
    stop = asyncio.Event()
    started = time.monotonic()
    Signals(stop, budget, leadership, exit_process=exit_process).received(signal.SIGTERM)
    await wind_down(controllers, 0.3)
    await leadership.release(timeout=1)
    # Bounded by the in-flight grace (0.3 s here), not the queue (5,000 s at 1 a second);
    # the bound is loose so a busy machine cannot fail it.
    assert time.monotonic() - started < 60
    assert all(task.done() for task in queued) and controllers[0].done()
    assert "1 controllers had not finished their work in flight" in caplog.text
    assert store.lease is not None and store.lease.holder == ""
    hung.set()


def test_the_graceful_stop_ends_well_inside_the_pods_grace_period() -> None:
    chart = (REPO / "charts/causeway/templates/deployment.yaml").read_text()
    found = re.search(r"terminationGracePeriodSeconds: *(\d+)", chart)
    grace = int(found.group(1)) if found else 30  # Kubernetes' default
    assert grace / 2 >= IN_FLIGHT_SECONDS + RELEASE_SECONDS


def test_a_second_signal_releases_the_lease_before_exiting() -> None:
    store, clocks = FakeLeaseStore(), Clocks()
    leadership = leader(store, clocks)
    stop = asyncio.Event()
    stop.set()  # the first signal came; the graceful stop is under way
    signals = Signals(stop, Budget(), leadership, exit_process=exit_process)
    with pytest.raises(ExitedError):
        signals.received(signal.SIGTERM)
    assert store.lease is not None and store.lease.holder == ""
    assert store.lease.lease_duration_seconds == 1


def test_a_second_signal_does_not_wait_long_for_an_unanswering_api_server() -> None:
    store, clocks = FakeLeaseStore(), Clocks()
    leadership = leader(store, clocks)
    store.failing = True  # the release's PUT fails: the Lease then expires on its own
    stop = asyncio.Event()
    stop.set()
    started = time.monotonic()
    with pytest.raises(ExitedError):
        Signals(stop, Budget(), leadership, exit_process=exit_process).received(signal.SIGINT)
    assert time.monotonic() - started < 1
    assert store.lease is not None and store.lease.holder == "pod-a_1"


def test_a_second_signal_on_a_standby_just_exits() -> None:
    store, clocks = FakeLeaseStore(), Clocks()
    leader(store, clocks)
    standby = Elector(store, "pod-b_2", monotonic=clocks.monotonic, wall_clock=clocks.wall)
    assert standby.attempt().role is Role.STANDBY
    stop = asyncio.Event()
    stop.set()
    leadership = Leadership(standby, lease="ns/causeway-leader")
    with pytest.raises(ExitedError):
        Signals(stop, Budget(), leadership, exit_process=exit_process).received(signal.SIGTERM)
    assert store.lease is not None and store.lease.holder == "pod-a_1"
