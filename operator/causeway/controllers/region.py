"""One reconciler per region, for every kind: the only place decisions are made.

Each pass observes the region in one batched listing per part (the transit VPC's
managed endpoints, and the platform service's connection requests: ceil(N/1000)
describe calls each, however many objects and tenants), judges every connection of
the cluster together (licenses, accounts, claims), asks each kind's manager what to
do about each of its objects, writes only the statuses that changed, and starts the
AWS work that is due without waiting for it (the work writes its own status).

Passes run on a fixed start-to-start cadence (pollInterval), never two at once for a
region; kopf's handlers `kick` for an early pass when an object changes, and a pass
comes sooner while AWS completes a transition the operator started. A kicked pass
reuses a listing up to a few seconds old, so a burst of new objects shares one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from causeway.api import SOURCE_RANGE_ALLOCATION
from causeway.aws.services import NAMES_PER_CALL
from causeway.controllers.budget import BudgetClosedError
from causeway.controllers.capacity import QuotaReader
from causeway.controllers.decisions import (
    Batch,
    Decision,
    Failure,
    Manager,
    PassContext,
    WorkResult,
)
from causeway.controllers.entitlements import allocations, judge
from causeway.controllers.inbound import InboundManager, stray_accepted
from causeway.controllers.observation import RegionObservation
from causeway.controllers.outbound import OutboundManager
from causeway.controllers.pool_check import PoolCheck
from causeway.controllers.waiting import until
from causeway.controllers.writer import STALE_WRITE_RETRY_SECONDS, StatusWriter
from causeway.errors import AwsCallError, ErrorContext, classify, describe
from causeway.fence import FencedError
from causeway.index import ObjectSnapshot
from causeway.metrics import Result
from causeway.reconcile.admission import Admission
from causeway.reconcile.outbound import is_live
from causeway.reconcile.status import Problem
from causeway.runtime import Runtime

T = TypeVar("T")
logger = logging.getLogger("causeway.region")
LISTING_REUSE_SECONDS = 5.0  # how old a listing a kicked pass may reuse
MISSING_REQUEST_RELIST_SECONDS = 0.5  # …when it does not show an endpoint a tenant named
KICK_COALESCE_SECONDS = 0.2  # kicks this close together share one pass
TRANSITION_RECHECK_SECONDS = 2.0  # while AWS completes a transition we started
BUDGET_REPORT_SECONDS = 30.0  # how often a queue for AWS capacity is reported
# After a pass, the next waits this many times as long as the pass took: with thousands
# of objects (a pass then takes a good fraction of a second) and AWS work ending many
# times a second, passes would otherwise take all the CPU; with few objects it is
# milliseconds, unnoticeable.
REST_FACTOR = 2.0


@dataclass
class PassReport:
    """What one pass of one region did (logged, and read by tests and the benchmark)."""

    region: str
    objects: int = 0
    endpoints: int = 0
    connections: int = 0
    listed: bool = False
    patched: int = 0
    started_work: int = 0
    failed: str | None = None
    duration: float = 0.0
    awaiting_aws: bool = field(default=False, repr=False)


Work = list[tuple[Manager, ObjectSnapshot]]


class RegionReconciler:
    """Runs the passes of one region."""

    def __init__(self, runtime: Runtime, region: str) -> None:
        self._runtime = runtime
        self.region = region
        self.view = runtime.views[region]
        self.health = runtime.health
        self._outbound = OutboundManager(runtime, region, self.health)
        self.managers: tuple[Manager, ...] = (
            self._outbound,
            InboundManager(runtime, region, self.health),
        )
        self._inbound_on = runtime.config.regions[region].inbound_enabled
        self._quota = QuotaReader(runtime, region)
        self._pool_check = PoolCheck(runtime, region)
        self._wake = asyncio.Event()
        self._kick_at: float | None = None
        self._rested_at = -math.inf  # when the next pass may start (REST_FACTOR)
        self._work: set[asyncio.Task[None]] = set()
        # A write refused because the object changed since it was read is decided again
        # on the newer object: the next pass comes once the watch has brought it.
        self._writer = StatusWriter(runtime.kube, runtime.index, runtime.clock, self._stale)
        self._write = self._writer.write
        self._recorder = StatusWriter(runtime.kube, runtime.index, runtime.clock, self._stale)
        self._strays_reported: set[str] = set()
        self._budget_reported_at = -math.inf
        self.last_report: PassReport | None = None
        self.passed = asyncio.Event()  # a first pass is over
        self._unsent = 0  # objects whose AWS work the closing budget refused

    # -- scheduling ------------------------------------------------------------------------

    def _stale(self) -> None:
        self.kick(STALE_WRITE_RETRY_SECONDS)

    def kicked_within(self, seconds: float) -> bool:
        """A pass is due within `seconds` (a kick pending), whatever the poll interval."""
        due = self._kick_at
        return due is not None and due <= self._runtime.monotonic() + seconds

    def kick(self, delay: float = 0.0) -> None:
        """Ask for a pass within `delay` seconds (kicks coalesce into one pass)."""
        due = self._runtime.monotonic() + max(delay, KICK_COALESCE_SECONDS)
        if self._kick_at is None or due < self._kick_at:
            self._kick_at = due
        self._wake.set()

    async def run(self, stopped: asyncio.Event) -> None:
        """Pass on a fixed cadence and when kicked, until `stopped` is set."""
        interval = self._runtime.config.pollInterval.total_seconds()
        await until(stopped, self._runtime.index.ready.wait())
        next_poll = self._runtime.monotonic()
        while not stopped.is_set():
            now = self._runtime.monotonic()
            retry = self._runtime.memories.next_retry() or math.inf
            due = max(min(next_poll, self._kick_at or math.inf, retry), self._rested_at)
            if due > now:
                self._wake.clear()
                await until(stopped, self._wake.wait(), timeout=due - now)
                continue
            periodic = now >= next_poll
            if periodic:
                next_poll += interval * max(1, math.ceil((now - next_poll) / interval))
            if self._kick_at is not None and self._kick_at <= now:
                self._kick_at = None
            report = await self.pass_safely(fresh=periodic)
            self.passed.set()
            self._rested_at = self._runtime.monotonic() + REST_FACTOR * report.duration
            if periodic:
                self._report_budget()
        await self.drain()
        if self._unsent:
            logger.info(
                "AWS work for %d objects in %s not sent: the operator is stopping (the "
                "next leader takes it up)",
                self._unsent,
                self.region,
            )

    def _report_budget(self) -> None:
        """While calls queue for AWS capacity, say so now and then (INFO, not a warning:
        waiting is how the budget works)."""
        now = self._runtime.monotonic()
        if now - self._budget_reported_at < BUDGET_REPORT_SECONDS:
            return
        lines = self._runtime.budget.report(self.region)
        for line in lines:
            logger.info("%s", line)
        if lines:
            self._budget_reported_at = now

    async def pass_safely(self, *, fresh: bool) -> PassReport:
        """A pass that never raises: the loop must outlive any one bad pass."""
        try:
            return await self.pass_once(fresh=fresh)
        except FencedError as exc:  # the leader Lease was lost: the operator is stopping
            logger.warning("Pass of %s stopped: %s", self.region, exc)
            return PassReport(self.region, failed="not leading")
        except Exception:
            logger.exception("Pass of %s failed unexpectedly; retrying next interval", self.region)
            return PassReport(self.region, failed="unexpected error")

    async def drain(self) -> None:
        """Wait for the AWS work under way (at shutdown, and in tests)."""
        while self._work:
            await asyncio.gather(*self._work, return_exceptions=True)
        await self._outbound.groups.drain()

    # -- one pass --------------------------------------------------------------------------

    async def pass_once(self, *, fresh: bool = True) -> PassReport:
        started = self._runtime.monotonic()
        report = PassReport(self.region)
        work: Work = [
            (m, s)
            for m in self.managers
            for s in self._runtime.index[m.kind].in_region(self.region)
        ]
        report.objects = len(work)
        # Before this pass starts any work: an allocation that the work adopts or makes
        # is then never judged by the same pass half-way (one order, not a thread race).
        await self._collect_orphan_allocations()
        if work:
            if fresh or self._listing_too_old(work):
                try:
                    await self._list(work, report)
                except AwsCallError as exc:
                    await self._unobserved(work, exc, report)
            if report.failed is None and not report.listed and self._outbound.groups.relist:
                await self._relist_groups()
            if report.failed is None:
                # Also when the listing is reused: a sync asks AWS again at once.
                await self._learn_services(work)
                # Before the pass's status writes: a block must not wait behind them.
                self._enforce(work)
                await self._decide_all(work, report)
        else:
            await self._report_quotas(report)
        report.duration = self._runtime.monotonic() - started
        self._log(report)
        self.last_report = report
        if report.awaiting_aws:
            self.kick(TRANSITION_RECHECK_SECONDS)
        return report

    def _listing_too_old(self, work: Work) -> bool:
        """A kicked pass reuses a recent listing, unless an InboundConnection names an
        endpoint it does not show (the tenant may have just created it)."""
        age = self.view.age()
        if _older_than(age, LISTING_REUSE_SECONDS):
            return True
        unknown = any(
            manager.kind.kind == "InboundConnection"
            and self.view.connection(str(snapshot.spec.get("vpcEndpointId", ""))) is None
            for manager, snapshot in work
        )
        return self._inbound_on and unknown and _older_than(age, MISSING_REQUEST_RELIST_SECONDS)

    async def _list(self, work: Work, report: PassReport) -> None:
        """One listing per part the region's objects need, each page within the budget."""
        kinds = {manager.kind.kind for manager, _ in work}
        taken_at = self._runtime.monotonic()
        endpoints = connections = None
        if "OutboundConnection" in kinds:
            await self._pool_check.run_once()
            await self._quota.refresh_if_due()
            transit = self._runtime.transit_endpoints(self.region)
            endpoints = tuple(await self._pages("DescribeVpcEndpoints", transit.managed_page))
            report.endpoints = len(endpoints)
        if self._inbound_on:
            service = self._runtime.service_connections(self.region)
            connections = tuple(await self._pages("DescribeVpcEndpointConnections", service.page))
            report.connections = len(connections)
        self.view.listed(RegionObservation(taken_at, endpoints, connections))
        if endpoints is not None:
            await self._list_groups()
        self.health.succeeded(self.region)
        report.listed = True

    async def _list_groups(self) -> None:
        """The transit VPCs' security groups (tenant groups and open groups), in pages."""
        groups = self._outbound.groups
        taken_at = self._runtime.monotonic()
        listed = await self._pages("DescribeSecurityGroups", groups.page)
        groups.relist = False
        self.view.groups_listed(listed, taken_at)

    async def _relist_groups(self) -> None:
        """After the tenant groups' work, between full listings: AWS is asked at once,
        so a block is reported in effect as soon as AWS lists it."""
        try:
            await self._list_groups()
        except AwsCallError as exc:
            logger.warning("Could not list the security groups of %s: %s", self.region, exc)

    def _enforce(self, work: Work) -> None:
        """Start the tenant groups' work the plan asks for (blocks, reopens)."""
        outbound = [s for manager, s in work if manager is self._outbound]
        self._outbound.see_groups(outbound)
        wanted, held = self._outbound.wanted_groups(outbound)
        self._outbound.groups.enforce(wanted, held, on_done=lambda: self.kick(0.0))

    def _may_reach(self, spec: Mapping[str, Any]) -> bool:
        home = spec.get("serviceRegion") or self.region
        allowed = self._runtime.config.regions[self.region].remoteServiceRegions
        return home == self.region or home in allowed

    async def _learn_services(self, work: Work) -> None:
        """Where the services run that connections are about to be created to (asked
        again after a while, or at once on a sync), and, a batch per pass, those of
        connections that have their endpoint (a service may add a zone)."""
        catalog = self._outbound.catalog
        creating: set[str] = set()
        live: set[str] = set()
        forced: set[str] = set()
        for manager, snapshot in work:
            name = snapshot.spec.get("serviceName")
            if manager is not self._outbound or not isinstance(name, str):
                continue
            if snapshot.deleting or snapshot.spec.get("provisioned") is False:
                continue
            if not self._may_reach(snapshot.spec):
                continue  # a Region the platform does not reach: nothing to ask AWS
            has_live = any(is_live(e) for e in self.view.owned_by(snapshot.uid))
            (live if has_live else creating).add(name)
            if self._runtime.memories[snapshot.uid].sync_requested:
                forced.add(name)
        due = catalog.due(creating, forced=forced)
        due += catalog.due(live - creating)[:NAMES_PER_CALL]
        if due:
            services = self._runtime.endpoint_services(self.region)
            await catalog.refresh(due, services, self._runtime.budget)

    async def _pages(
        self, api: str, page: Callable[[str | None], tuple[list[T], str | None]]
    ) -> list[T]:
        """Every page of a listing, each call waiting for its token (the platform's
        own calls go before any tenant's)."""
        items: list[T] = []
        token: str | None = None
        while True:
            got, token = await self._runtime.budget.call(
                self.region, api, partial(asyncio.to_thread, page, token)
            )
            items.extend(got)
            if not token:
                return items

    async def _decide_all(self, work: Work, report: PassReport) -> None:
        writes: list[Awaitable[bool]] = []
        async with self._runtime.admission_lock:
            by_manager = self._current(work)
            admission = judge(self._runtime)
            context = PassContext(
                self.view, self._runtime.memories, admission, self._write, self._recorder.write
            )
            for manager in self.managers:
                plan = manager.plan_pass(by_manager[id(manager)], context)
                for snapshot, decision in plan.decisions:
                    writes += self._take(manager, snapshot, decision, report)
                for batch in plan.batches:
                    self._consume(batch.snapshots)
                    self._start(manager, batch, report)
        report.patched = sum(await asyncio.gather(*writes))
        await self._publish_licences(admission, report)
        self._report_strays()

    async def _report_quotas(self, report: PassReport) -> None:
        """A region without objects still reports the ConnectionQuotas: a tenant onboarded
        before its first connection sees its licences (found by the fault campaign, seed
        1011 --rough: quotas without any status). Only once every region holding objects
        has listed AWS: before that, what their connections hold is not known."""
        if not self._holders_known():
            return
        async with self._runtime.admission_lock:
            admission = judge(self._runtime)
        await self._publish_licences(admission, report)

    async def _publish_licences(self, admission: Admission, report: PassReport) -> None:
        """What the admission counted, for the metrics and every ConnectionQuota status."""
        self._runtime.licence_use = admission.usage
        report.patched += await self._runtime.quotas.report()

    def _holders_known(self) -> bool:
        for region in self._runtime.config.regions:
            view = self._runtime.views.get(region)
            listed = view is not None and view.ever_listed
            if not listed and any(
                self._runtime.index[m.kind].in_region(region) for m in self.managers
            ):
                return False
        return True

    def _current(self, work: Work) -> dict[int, list[ObjectSnapshot]]:
        """Each object as the index holds it now, by manager. The listing awaited AWS:
        meanwhile AWS work may have ended and written a status, and a decision made on
        the older snapshot would write (and announce) the same phase change again."""
        by_manager: dict[int, list[ObjectSnapshot]] = {id(m): [] for m in self.managers}
        for manager, snapshot in work:
            current = self._runtime.index[manager.kind].get(snapshot.namespace, snapshot.name)
            if current is not None:
                by_manager[id(manager)].append(current)
        return by_manager

    def _take(
        self, manager: Manager, snapshot: ObjectSnapshot, decision: Decision, report: PassReport
    ) -> list[Awaitable[bool]]:
        """Act on one object's decision; returns the status write to make, if any."""
        if not decision.deferred:
            self._consume((snapshot,))
        if decision.settled:
            self._runtime.memories.teardown_finished(snapshot.uid)
        report.awaiting_aws |= decision.awaiting_aws
        if decision.guard:
            return [self._guard(manager, snapshot, decision, report)]
        if decision.work is not None:
            self._start_alone(manager, snapshot, decision.work, report)
            return []
        if decision.patch:
            return [self._timed_write(manager, snapshot, decision.patch)]
        result = Result.REQUEUE if decision.deferred else Result.SUCCESS
        self._runtime.metrics.reconciled(manager.kind, result)
        return []

    async def _timed_write(
        self, manager: Manager, snapshot: ObjectSnapshot, patch: Mapping[str, Any]
    ) -> bool:
        started = self._runtime.monotonic()
        written = await self._write(manager.kind, snapshot, patch)
        elapsed = self._runtime.monotonic() - started
        self._runtime.metrics.reconciled(manager.kind, Result.SUCCESS, elapsed)
        return written

    async def _guard(
        self, manager: Manager, snapshot: ObjectSnapshot, decision: Decision, report: PassReport
    ) -> bool:
        """The finalizer first (its resourceVersion is the snapshot's); then the work in
        this same pass, or, when the finalizer could not be added, the status."""
        if await self._writer.guard(manager.kind, snapshot) and decision.work is not None:
            self._start_alone(manager, snapshot, decision.work, report)
            return False
        if not decision.patch:
            return False
        return await self._timed_write(manager, snapshot, decision.patch)

    def _start_alone(
        self,
        manager: Manager,
        snapshot: ObjectSnapshot,
        run: Callable[[], Awaitable[WorkResult]],
        report: PassReport,
    ) -> None:
        async def alone() -> Mapping[str, WorkResult]:
            return {snapshot.uid: await run()}

        self._start(manager, Batch((snapshot,), alone), report)

    def _consume(self, snapshots: tuple[ObjectSnapshot, ...]) -> None:
        """What kopf asked for (a re-check, a sync) is being acted on now."""
        for snapshot in snapshots:
            memory = self._runtime.memories[snapshot.uid]
            memory.touch = memory.sync_requested = False

    def _start(self, manager: Manager, batch: Batch, report: PassReport) -> None:
        for snapshot in batch.snapshots:
            self._runtime.memories[snapshot.uid].in_flight = True
        report.started_work += len(batch.snapshots)
        task = asyncio.create_task(self._finish(manager, batch))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _finish(self, manager: Manager, batch: Batch) -> None:
        started = self._runtime.monotonic()
        try:
            results = await batch.run()
        except BudgetClosedError:
            self._unsent += len(batch.snapshots)  # stopping: said once, at the end
            results = {}
        except FencedError as exc:
            logger.warning("AWS work in %s not started: %s", self.region, exc)
            results = {}
        except Exception:
            logger.exception("Unexpected failure of AWS work in %s; retrying", self.region)
            results = {}
        awaiting = False
        for snapshot in batch.snapshots:
            result = results.get(snapshot.uid, WorkResult(None, Failure.RECOVERABLE))
            try:
                if result.patch:
                    await self._write(manager.kind, snapshot, result.patch)
            finally:
                self._settle(snapshot, result)
                elapsed = self._runtime.monotonic() - started
                self._runtime.metrics.reconciled(manager.kind, _result(result), elapsed)
            awaiting |= result.awaiting_aws
        self.kick(TRANSITION_RECHECK_SECONDS if awaiting else 0.0)

    def _settle(self, snapshot: ObjectSnapshot, result: WorkResult) -> None:
        memories = self._runtime.memories
        memory = memories[snapshot.uid]
        memory.in_flight = False
        if result.failure is None:
            memories.succeeded(snapshot.uid)
        elif result.failure is Failure.TERMINAL:
            memory.stalled_generation = snapshot.generation
        else:
            memories.failed(snapshot.uid)
        if result.settled:
            memories.teardown_finished(snapshot.uid)

    async def _unobserved(self, work: Work, error: AwsCallError, report: PassReport) -> None:
        """The listing failed: no object's phase changes; each says it is not synced."""
        rule = classify(error)
        report.failed = rule.reason
        self.view.failed()
        self.health.failed(self.region, rule, error)
        problem = Problem(rule.reason, describe(error, ErrorContext(region=self.region)), False)
        writes = []
        for manager, snapshot in work:
            self._runtime.metrics.reconciled(manager.kind, Result.REQUEUE)
            patch = manager.unobserved(snapshot, problem)
            if patch:
                writes.append(self._write(manager.kind, snapshot, patch))
        report.patched = sum(await asyncio.gather(*writes))

    # -- cluster-wide bookkeeping done by every region's pass ----------------------------

    async def _collect_orphan_allocations(self) -> None:
        """Ranges whose InboundConnection no longer exists (it was removed without its
        teardown, e.g. its finalizer was stripped by hand) go back to the pool."""
        inbound = {s.uid for s in self._runtime.index[self.managers[1].kind].all()}
        for allocation in allocations(self._runtime):
            if allocation.region != self.region or allocation.owner_uid in inbound:
                continue
            logger.warning(
                "Releasing source range %s of a deleted InboundConnection (%s/…)",
                allocation.cidr,
                allocation.owner_namespace,
            )
            with contextlib.suppress(Exception):  # retried next pass
                await asyncio.to_thread(
                    self._runtime.kube.delete_cluster_object,
                    SOURCE_RANGE_ALLOCATION,
                    allocation.name,
                )
                self._runtime.index[SOURCE_RANGE_ALLOCATION].observe(
                    "DELETED", {"metadata": {"name": allocation.name, "namespace": ""}}
                )

    def _report_strays(self) -> None:
        """Accepted requests no InboundConnection owns: a WARNING once for each."""
        if not self._inbound_on:
            return
        owned = {a.endpoint_id for a in allocations(self._runtime) if a.region == self.region}
        for stray in stray_accepted(self.view, owned):
            if stray.endpoint_id not in self._strays_reported:
                self._strays_reported.add(stray.endpoint_id)
                logger.warning(
                    "The platform service in %s has an accepted connection from %s (account "
                    "%s) that no InboundConnection holds: accepted outside Causeway; it is "
                    "not attached to any tenant",
                    self.region,
                    stray.endpoint_id,
                    stray.owner_account,
                )

    # -- writes ----------------------------------------------------------------------------

    def _log(self, report: PassReport) -> None:
        """INFO only when a pass changed something; every pass at DEBUG. (A failed listing
        is reported once per change by PlatformHealth.)"""
        level = logging.INFO if report.patched or report.started_work else logging.DEBUG
        if report.failed:
            logger.log(
                level,
                "Pass of %s could not list AWS (%s): %d objects, %d marked not synced",
                report.region,
                report.failed,
                report.objects,
                report.patched,
            )
            return
        logger.log(
            level,
            "Pass of %s: %d objects, %d managed endpoints, %d connection requests%s, "
            "%d status updates, %d started in AWS, %.2fs",
            report.region,
            report.objects,
            report.endpoints,
            report.connections,
            "" if report.listed else " (listing reused)",
            report.patched,
            report.started_work,
            report.duration,
        )


def _result(work: WorkResult) -> Result:
    if work.failure is None:
        return Result.SUCCESS
    return Result.ERROR if work.failure is Failure.TERMINAL else Result.REQUEUE


def _older_than(age: float | None, seconds: float) -> bool:
    return age is None or age > seconds
