"""The leader's renewal under a hung API server: the renew deadline is checked while
the renew attempt itself hangs (the leader stops acting at the deadline, not when the
GET or PUT finally times out), a renew answered after the deadline does not make it
leader again, and the Lease calls run on the election's own thread, so a saturated
default executor (hung Kubernetes or AWS calls elsewhere) cannot starve them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Iterator

import pytest

from causeway.controllers.leadership import LEASE_THREAD, Leadership
from causeway.election import ElectionTiming, Elector, LeaseRecord, Role
from unit.test_election import Clocks, FakeLeaseStore

# A real retry period short enough for a test; deadline and lease judged on `Clocks`.
FAST = ElectionTiming(lease_duration=15, renew_deadline=10, retry_period=0.05)


class HangingStore(FakeLeaseStore):
    """A Lease store whose calls can be made to hang (a half-open connection) until
    the test lets them go; records which thread each call ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.hang = False
        self.hanging = threading.Event()  # a call is hanging now
        self.let_go = threading.Event()
        self.threads: set[str] = set()

    def get(self) -> LeaseRecord | None:
        self.threads.add(threading.current_thread().name)
        if self.hang:
            self.hanging.set()
            self.let_go.wait(10)
        return super().get()


@pytest.fixture
def store() -> Iterator[HangingStore]:
    hanging = HangingStore()
    yield hanging
    hanging.let_go.set()  # never leave a worker thread blocked


def elector(store: FakeLeaseStore, clocks: Clocks) -> Elector:
    return Elector(
        store, "pod-a_1", timing=FAST, monotonic=clocks.monotonic, wall_clock=clocks.wall
    )


async def wait_until(event: threading.Event) -> None:
    while not event.is_set():
        await asyncio.sleep(0.01)


async def test_the_deadline_fires_while_the_renew_attempt_hangs(store: HangingStore) -> None:
    clocks = Clocks()
    lost: list[bool] = []
    driver = Leadership(elector(store, clocks), lease="ns/l", on_lost=lambda: lost.append(True))
    stopped = asyncio.Event()
    task = asyncio.create_task(driver.run(stopped))
    await asyncio.wait_for(driver.acquired.wait(), 5)
    store.hang = True
    await asyncio.wait_for(wait_until(store.hanging), 5)  # a renew is under way, hung
    clocks.advance(10)  # the renew deadline passes during it
    assert not driver.may_act()  # the fence reads the clock itself
    await asyncio.wait_for(driver.lost.wait(), 1)  # and the loss is declared at once
    assert lost == [True]
    assert not store.let_go.is_set()  # while the GET still hangs
    await asyncio.wait_for(task, 1)

    store.hang = False
    store.let_go.set()  # the renew goes through after all: too late, losing is final
    for _ in range(100):
        if store.writes == 2:
            break
        await asyncio.sleep(0.01)
    assert store.writes == 2
    assert driver.elector.role is Role.LOST
    assert not driver.may_act()


def test_a_renew_that_lands_after_a_concurrent_loss_does_not_lead_again() -> None:
    clocks = Clocks()
    store = HangingStore()
    leader = elector(store, clocks)
    assert leader.attempt().role is Role.LEADER
    store.hang = True
    worker = concurrent.futures.ThreadPoolExecutor(1)
    renewing = worker.submit(leader.attempt)
    assert store.hanging.wait(5)
    clocks.advance(10)
    assert leader.check_deadline()  # the loop's tick, while the renew hangs
    store.let_go.set()
    assert renewing.result(5).role is Role.LOST
    assert not leader.may_act()
    worker.shutdown()


async def test_lease_calls_run_on_their_own_thread_when_the_default_executor_is_full(
    store: HangingStore,
) -> None:
    loop = asyncio.get_running_loop()
    shared = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(shared)
    blocked = threading.Event()
    # A hung Kubernetes call elsewhere holds the only default worker.
    hung = loop.run_in_executor(None, blocked.wait, 10)
    try:
        driver = Leadership(elector(store, Clocks()), lease="ns/l")
        stopped = asyncio.Event()
        task = asyncio.create_task(driver.run(stopped))
        await asyncio.wait_for(driver.acquired.wait(), 2)
        stopped.set()
        await asyncio.wait_for(task, 2)
        await asyncio.wait_for(driver.release(), 2)
        assert store.lease is not None and store.lease.holder == ""
        assert store.threads and all(t.startswith(LEASE_THREAD) for t in store.threads)
    finally:
        blocked.set()
        await hung


def test_a_second_signal_releases_without_waiting_for_a_hung_renew(store: HangingStore) -> None:
    """release_now runs beside a hung attempt (its own thread) and is bounded."""
    clocks = Clocks()
    leader = elector(store, clocks)
    driver = Leadership(leader, lease="ns/l")
    assert leader.attempt().role is Role.LEADER
    store.hang = True
    worker = concurrent.futures.ThreadPoolExecutor(1)
    worker.submit(leader.attempt)  # a renew hangs on its GET
    assert store.hanging.wait(5)
    started = time.monotonic()
    driver.release_now(timeout=2)
    assert time.monotonic() - started < 1
    assert store.lease is not None and store.lease.holder == ""
    store.let_go.set()
    worker.shutdown()
    assert leader.role is Role.LOST
