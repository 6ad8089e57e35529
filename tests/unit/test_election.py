"""The leader election state machine, against an in-memory Lease store that keeps the
API server's optimistic concurrency (a write names the resourceVersion it read), and
clocks the tests move by hand."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from causeway.controllers.leadership import Leadership
from causeway.election import (
    ElectionTiming,
    Elector,
    LeaseConflictError,
    LeaseRecord,
    Role,
)

START = datetime(2026, 12, 2, tzinfo=UTC)


class FakeLeaseStore:
    """One Lease with resourceVersions: create refuses an existing Lease, replace refuses
    a stale resourceVersion or a deleted Lease (as the API server's 409 and 404 do)."""

    def __init__(self) -> None:
        self.lease: LeaseRecord | None = None
        self.version = 0
        self.writes = 0
        self.failing = False  # the API server does not answer

    def get(self) -> LeaseRecord | None:
        self._answer()
        return self.lease

    def create(self, record: LeaseRecord) -> LeaseRecord:
        self._answer()
        if self.lease is not None:
            raise LeaseConflictError("exists")
        return self._store(record)

    def replace(self, record: LeaseRecord) -> LeaseRecord:
        self._answer()
        if self.lease is None or record.resource_version != self.lease.resource_version:
            raise LeaseConflictError("stale")
        return self._store(record)

    def _answer(self) -> None:
        if self.failing:
            raise ConnectionError("API server unavailable")

    def _store(self, record: LeaseRecord) -> LeaseRecord:
        self.version += 1
        self.writes += 1
        self.lease = replace(record, resource_version=str(self.version))
        return self.lease


class Clocks:
    """One monotonic clock per process (they never agree across pods) plus a wall clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def elector(store: FakeLeaseStore, identity: str, clocks: Clocks, config_hash: str = "") -> Elector:
    return Elector(
        store,
        identity,
        config_hash=config_hash,
        monotonic=clocks.monotonic,
        wall_clock=clocks.wall,
    )


@pytest.fixture
def store() -> FakeLeaseStore:
    return FakeLeaseStore()


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


def test_first_candidate_creates_the_lease_and_leads(store: FakeLeaseStore, clocks: Clocks) -> None:
    a = elector(store, "pod-a_1", clocks, config_hash="h1")
    outcome = a.attempt()
    assert (outcome.role, outcome.holder, outcome.changed) == (Role.LEADER, "pod-a_1", True)
    assert a.may_act()
    assert store.lease is not None
    assert store.lease.holder == "pod-a_1"
    assert store.lease.lease_duration_seconds == 15
    assert store.lease.config_hash == "h1"
    assert store.lease.acquire_time == store.lease.renew_time == clocks.wall()


def test_second_candidate_stays_standby_while_the_leader_renews(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    a, b = elector(store, "a", clocks), elector(store, "b", clocks)
    a.attempt()
    for _ in range(20):  # 40 s: far past a lease duration, but renewed every 2 s
        clocks.advance(2)
        assert a.attempt().role is Role.LEADER
        assert b.attempt().role is Role.STANDBY
        assert a.may_act() and not b.may_act()
    assert b.holder == "a"


def test_renew_keeps_acquire_time_and_moves_renew_time(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    a = elector(store, "a", clocks)
    a.attempt()
    acquired = store.lease.acquire_time if store.lease else None
    clocks.advance(2)
    a.attempt()
    assert store.lease is not None
    assert store.lease.acquire_time == acquired
    assert store.lease.renew_time == clocks.wall()
    assert store.lease.transitions == 0


def test_standby_takes_an_abandoned_lease_only_after_a_whole_lease_duration(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    a, b = elector(store, "a", clocks), elector(store, "b", clocks)
    a.attempt()
    b.attempt()  # b sees a's record now, and times it from here on its own clock
    clocks.advance(14.9)
    assert b.attempt().role is Role.STANDBY
    clocks.advance(0.2)
    outcome = b.attempt()
    assert (outcome.role, outcome.holder, outcome.changed) == (Role.LEADER, "b", True)
    assert store.lease is not None and store.lease.transitions == 1


def test_expiry_is_judged_on_the_local_clock_never_the_lease_wall_time(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    """A Lease whose renewTime is an hour old (the leader's node clock is behind) is
    still held while it keeps changing."""
    a_clock = Clocks()
    a = Elector(
        store,
        "a",
        monotonic=a_clock.monotonic,
        wall_clock=lambda: START - timedelta(hours=1),
    )
    b = elector(store, "b", clocks)
    for _ in range(10):
        a.attempt()
        assert b.attempt().role is Role.STANDBY
        a_clock.advance(2)
        clocks.advance(2)


def race_on_the_next_renew(store: FakeLeaseStore, **change: str) -> None:
    """Someone writes the Lease between the leader's read and its write."""
    real_get = store.get

    def get_then_someone_writes() -> LeaseRecord | None:
        seen = real_get()
        assert store.lease is not None
        store._store(replace(store.lease, **change))
        store.get = real_get  # type: ignore[method-assign]
        return seen

    store.get = get_then_someone_writes  # type: ignore[method-assign]


def test_leader_that_loses_a_race_on_the_resource_version_loses_leadership(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    """As client-go: the refused renew is a failed renew (the leader acts until its
    deadline at most); the next read shows the Lease taken, and that is the loss."""
    a = elector(store, "a", clocks)
    a.attempt()
    race_on_the_next_renew(store, holder="intruder")
    clocks.advance(2)
    assert a.attempt().role is Role.LEADER
    assert a.may_act()  # its last renew is 2 s old, within the deadline
    clocks.advance(2)
    outcome = a.attempt()
    assert (outcome.role, outcome.changed) == (Role.LOST, True)
    assert not a.may_act()


def test_a_write_that_leaves_the_holder_keeps_leadership(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    """A conflict that is not a takeover (an annotation edited by hand, or the sandbox's
    injected 409) costs one renew round, not the leadership."""
    a = elector(store, "a", clocks)
    a.attempt()
    race_on_the_next_renew(store, config_hash="edited")
    clocks.advance(2)
    a.attempt()
    clocks.advance(2)
    assert a.attempt().role is Role.LEADER
    assert store.lease is not None and store.lease.holder == "a" and a.may_act()


def test_two_candidates_racing_for_a_new_lease_make_one_leader(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    a, b = elector(store, "a", clocks), elector(store, "b", clocks)
    real_get = store.get
    store.get = lambda: None  # type: ignore[method-assign]  # both read "no Lease"
    assert a.attempt().role is Role.LEADER
    assert b.attempt().role is Role.STANDBY  # its create got 409 AlreadyExists
    store.get = real_get  # type: ignore[method-assign]
    assert b.attempt().role is Role.STANDBY
    assert store.lease is not None and store.lease.holder == "a"


def test_leader_stops_acting_at_the_renew_deadline_before_the_lease_expires(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    a, b = elector(store, "a", clocks), elector(store, "b", clocks)
    a.attempt()
    b.attempt()
    store.failing = True  # the API server stops answering
    for _ in range(4):
        clocks.advance(2)
        with pytest.raises(ConnectionError):
            a.attempt()
        assert a.may_act()
    clocks.advance(2)  # 10 s since the last renew started: the renew deadline
    assert not a.may_act()
    assert a.check_deadline()
    assert a.role is Role.LOST
    store.failing = False
    clocks.advance(4.9)  # 14.9 s: the standby still waits, after the leader stopped
    assert b.attempt().role is Role.STANDBY
    clocks.advance(0.2)
    assert b.attempt().role is Role.LEADER


def test_paused_leader_refuses_to_act_on_resume_before_any_request(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    a, b = elector(store, "a", clocks), elector(store, "b", clocks)
    a.attempt()
    b.attempt()
    clocks.advance(30)  # a is SIGSTOPped for twice the lease; b takes over meanwhile
    assert b.attempt().role is Role.LEADER
    writes = store.writes
    assert not a.may_act()  # the first thing a resumed process checks
    outcome = a.attempt()
    assert (outcome.role, outcome.changed) == (Role.LOST, True)
    assert store.writes == writes  # a wrote nothing after resuming
    assert store.lease is not None and store.lease.holder == "b"


def test_lost_is_final(store: FakeLeaseStore, clocks: Clocks) -> None:
    a = elector(store, "a", clocks)
    a.attempt()
    clocks.advance(11)
    a.attempt()
    assert a.role is Role.LOST
    clocks.advance(60)  # nobody else took the Lease; the lost process still never acts
    assert a.attempt().role is Role.LOST
    assert not a.may_act()


def test_release_hands_over_within_a_retry_period(store: FakeLeaseStore, clocks: Clocks) -> None:
    a, b = elector(store, "a", clocks), elector(store, "b", clocks)
    a.attempt()
    b.attempt()
    assert a.release()
    assert store.lease is not None
    assert (store.lease.holder, store.lease.lease_duration_seconds) == ("", 1)
    assert not a.may_act()
    clocks.advance(2)
    assert b.attempt().role is Role.LEADER


def test_release_after_losing_writes_nothing(store: FakeLeaseStore, clocks: Clocks) -> None:
    a = elector(store, "a", clocks)
    a.attempt()
    clocks.advance(11)
    writes = store.writes
    assert not a.release()
    assert store.writes == writes


def test_deleted_lease_is_recreated_and_one_leader_elected(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    a, b = elector(store, "a", clocks), elector(store, "b", clocks)
    a.attempt()
    b.attempt()
    store.lease = None  # kubectl delete lease
    clocks.advance(2)
    assert b.attempt().role is Role.LEADER  # b recreated it first
    assert a.attempt().role is Role.LOST  # a sees someone else holds it now
    assert store.lease is not None and store.lease.holder == "b"


def test_standby_sees_the_leaders_config_hash(store: FakeLeaseStore, clocks: Clocks) -> None:
    elector(store, "a", clocks, config_hash="old").attempt()
    outcome = elector(store, "b", clocks, config_hash="new").attempt()
    assert (outcome.role, outcome.holder_config_hash) == (Role.STANDBY, "old")


@pytest.mark.parametrize(
    ("lease", "deadline", "retry"), [(15, 15, 2), (15, 10, 10), (15, 20, 2), (15, 10, 0)]
)
def test_timing_must_leave_a_margin(lease: float, deadline: float, retry: float) -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        ElectionTiming(lease, deadline, retry)


# --- the driver: Leadership runs attempts on the event loop -------------------------------


def leadership(elector_: Elector, gauge: list[bool], lost: list[bool]) -> Leadership:
    return Leadership(
        elector_,
        lease="ns/causeway-leader",
        on_change=gauge.append,
        on_lost=lambda: lost.append(True),
    )


async def test_leadership_announces_acquire_and_loss(
    store: FakeLeaseStore, clocks: Clocks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="causeway")
    gauge: list[bool] = []
    lost: list[bool] = []
    driver = leadership(elector(store, "pod-a_1", clocks), gauge, lost)
    stopped = asyncio.Event()
    task = asyncio.create_task(driver.run(stopped))
    await asyncio.wait_for(driver.acquired.wait(), 5)
    assert driver.may_act()
    assert gauge == [True]
    assert "Acquired Lease ns/causeway-leader: pod-a_1 leads now" in caplog.text
    clocks.advance(10)  # as if paused past the renew deadline
    await asyncio.wait_for(driver.lost.wait(), 5)
    await asyncio.wait_for(task, 5)
    assert (gauge, lost) == ([True, False], [True])
    assert "Lost Lease ns/causeway-leader" in caplog.text
    assert not driver.may_act()


async def test_standby_names_the_leader_and_warns_of_another_config(
    store: FakeLeaseStore, clocks: Clocks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="causeway")
    elector(store, "pod-a_1", clocks, config_hash="aaa").attempt()
    gauge: list[bool] = []
    driver = leadership(elector(store, "pod-b_2", clocks, config_hash="bbb"), gauge, [])
    stopped = asyncio.Event()
    task = asyncio.create_task(driver.run(stopped))
    await asyncio.wait_for(driver.attempted.wait(), 5)
    stopped.set()
    await asyncio.wait_for(task, 5)
    assert not driver.acquired.is_set() and gauge == []
    assert "Lease ns/causeway-leader is held by pod-a_1: standing by" in caplog.text
    assert "runs another operator config (hash aaa, this replica's bbb)" in caplog.text


async def test_release_on_stop_empties_the_holder(store: FakeLeaseStore, clocks: Clocks) -> None:
    gauge: list[bool] = []
    driver = leadership(elector(store, "pod-a_1", clocks), gauge, [])
    stopped = asyncio.Event()
    task = asyncio.create_task(driver.run(stopped))
    await asyncio.wait_for(driver.acquired.wait(), 5)
    stopped.set()
    await asyncio.wait_for(task, 5)
    await driver.release()
    assert store.lease is not None and store.lease.holder == ""
    assert gauge == [True, False]


class SlowGets(FakeLeaseStore):
    """The same Lease, but each GET answers `delay` seconds after it was sent."""

    def __init__(self, shared: FakeLeaseStore, clocks: Clocks, delay: float) -> None:
        super().__init__()
        self._shared, self._clocks, self._delay = shared, clocks, delay

    def get(self) -> LeaseRecord | None:
        self._clocks.advance(self._delay)
        return self._shared.get()

    def replace(self, record: LeaseRecord) -> LeaseRecord:
        return self._shared.replace(record)


def test_a_standby_times_a_record_from_when_its_get_answered(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    """client-go's observedTime: a slow GET must not shorten the lease the old leader is
    owed (timed from the request, a 3 s answer would leave it 12 s, not 15)."""
    a = elector(store, "a", clocks)
    a.attempt()  # a leads, then dies without renewing
    b = elector(SlowGets(store, clocks, delay=3.0), "b", clocks)
    b.attempt()  # sent at 1000, answered at 1003: b first saw a's record at 1003
    clocks.advance(12.5)  # 15.5 s after sending, 12.5 s after the answer
    assert b.attempt().role is Role.STANDBY
    clocks.advance(2.5)  # the next round starts 15 s after the first answer
    assert b.attempt().role is Role.LEADER


def test_a_restarted_container_takes_its_own_pods_lease_at_once(
    store: FakeLeaseStore, clocks: Clocks
) -> None:
    """The kubelet runs one container of a pod at a time: a Lease held by another
    process of this pod is held by a dead one (kill -9, OOM), so waiting out its
    15 s would only leave the platform without a leader."""
    old = elector(store, "causeway-7d9f-x2k4_1111", clocks)
    assert old.attempt().role is Role.LEADER  # then killed: it never renews again

    def process(identity: str, pod: str | None) -> Elector:
        return Elector(store, identity, pod=pod, monotonic=clocks.monotonic, wall_clock=clocks.wall)

    other_pod = process("causeway-7d9f-b8m2_2222", "causeway-7d9f-b8m2")
    host_only = process("causeway-7d9f-x2k4_3333", None)  # no POD_NAME: no such proof
    assert other_pod.attempt().role is Role.STANDBY
    assert host_only.attempt().role is Role.STANDBY
    restarted = process("causeway-7d9f-x2k4_4444", "causeway-7d9f-x2k4")
    outcome = restarted.attempt()
    assert (outcome.role, outcome.holder) == (Role.LEADER, "causeway-7d9f-x2k4_4444")
    assert store.lease is not None and store.lease.transitions == 1
    clocks.advance(2)
    assert old.attempt().role is Role.LOST  # were it alive after all, it would stop
