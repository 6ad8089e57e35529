"""One reconciler per region, for every kind: the only place decisions are made.

Each pass observes the region in one batched listing (ceil(N/1000) describe calls,
however many objects and tenants), asks each kind's manager what to do about each
of its objects, writes only the statuses that changed, and starts the AWS work that
is due without waiting for it (the work writes its own status when it ends).

Passes run on a fixed start-to-start cadence (pollInterval), never two at once for a
region; kopf's handlers `kick` for an early pass when an object changes, and a pass
comes sooner while AWS completes a transition the operator started. A pass triggered
by a kick reuses a listing up to a few seconds old, so a burst of new objects shares
one listing instead of one each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from causeway.aws.endpoints import TransitEndpoints
from causeway.controllers.decisions import Decision, Failure, Manager, WorkResult
from causeway.controllers.observation import RegionObservation, RegionView
from causeway.controllers.outbound import OutboundManager
from causeway.errors import AwsCallError, ErrorContext, classify, describe
from causeway.index import ObjectSnapshot
from causeway.kube import ObjectRef
from causeway.logs import object_logger
from causeway.reconcile.status import Problem
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.region")
LISTING_REUSE_SECONDS = 5.0  # how old a listing a kicked pass may reuse
KICK_COALESCE_SECONDS = 0.2  # kicks this close together share one pass
TRANSITION_RECHECK_SECONDS = 2.0  # while AWS completes a transition we started
STATUS_WRITE_CONCURRENCY = 16


@dataclass
class PassReport:
    """What one pass of one region did (logged, and read by tests and the benchmark)."""

    region: str
    objects: int = 0
    endpoints: int = 0
    listed: bool = False
    patched: int = 0
    started_work: int = 0
    failed: str | None = None
    duration: float = 0.0
    awaiting_aws: bool = field(default=False, repr=False)


class RegionReconciler:
    """Runs the passes of one region."""

    def __init__(self, runtime: Runtime, region: str) -> None:
        self._runtime = runtime
        self.region = region
        self.view = RegionView(clock=runtime.monotonic)
        self.health = runtime.health
        self.managers: tuple[Manager, ...] = (OutboundManager(runtime, region, self.health),)
        self._wake = asyncio.Event()
        self._kick_at: float | None = None
        self._work: set[asyncio.Task[None]] = set()
        self._writes = asyncio.Semaphore(STATUS_WRITE_CONCURRENCY)
        self.last_report: PassReport | None = None

    # -- scheduling ------------------------------------------------------------------------

    def kick(self, delay: float = 0.0) -> None:
        """Ask for a pass within `delay` seconds (kicks coalesce into one pass)."""
        due = self._runtime.monotonic() + max(delay, KICK_COALESCE_SECONDS)
        if self._kick_at is None or due < self._kick_at:
            self._kick_at = due
        self._wake.set()

    async def run(self, stopped: asyncio.Event) -> None:
        """Pass on a fixed cadence and when kicked, until `stopped` is set."""
        interval = self._runtime.config.pollInterval.total_seconds()
        await _until(stopped, self._runtime.index.ready.wait())
        next_poll = self._runtime.monotonic()
        while not stopped.is_set():
            now = self._runtime.monotonic()
            due = min(
                next_poll,
                self._kick_at or math.inf,
                self._runtime.memories.next_retry() or math.inf,
            )
            if due > now:
                self._wake.clear()
                await _until(stopped, self._wake.wait(), timeout=due - now)
                continue
            periodic = now >= next_poll
            if periodic:
                next_poll += interval * max(1, math.ceil((now - next_poll) / interval))
            if self._kick_at is not None and self._kick_at <= now:
                self._kick_at = None
            await self.pass_safely(fresh=periodic)
        await self.drain()

    async def pass_safely(self, *, fresh: bool) -> PassReport:
        """A pass that never raises: the loop must outlive any one bad pass."""
        try:
            return await self.pass_once(fresh=fresh)
        except Exception:
            logger.exception("Pass of %s failed unexpectedly; retrying next interval", self.region)
            return PassReport(self.region, failed="unexpected error")

    async def drain(self) -> None:
        """Wait for the AWS work under way (at shutdown, and in tests)."""
        while self._work:
            await asyncio.gather(*self._work, return_exceptions=True)

    # -- one pass --------------------------------------------------------------------------

    async def pass_once(self, *, fresh: bool = True) -> PassReport:
        started = self._runtime.monotonic()
        report = PassReport(self.region)
        work = [
            (m, s)
            for m in self.managers
            for s in self._runtime.index[m.kind].in_region(self.region)
        ]
        report.objects = len(work)
        if work:
            if fresh or _older_than(self.view.age(), LISTING_REUSE_SECONDS):
                try:
                    await self._list(report)
                except AwsCallError as exc:
                    await self._unobserved(work, exc, report)
            if report.failed is None:
                await self._decide_all(work, report)
        report.duration = self._runtime.monotonic() - started
        self._log(report)
        self.last_report = report
        if report.awaiting_aws:
            self.kick(TRANSITION_RECHECK_SECONDS)
        return report

    async def _list(self, report: PassReport) -> None:
        endpoints = self._endpoints()
        taken_at = self._runtime.monotonic()
        listed = await asyncio.to_thread(endpoints.all_managed)
        self.view.listed(RegionObservation(taken_at, tuple(listed)))
        self.health.succeeded(self.region)
        report.listed, report.endpoints = True, len(listed)

    async def _decide_all(
        self, work: list[tuple[Manager, ObjectSnapshot]], report: PassReport
    ) -> None:
        writes = []
        for manager, snapshot in work:
            memory = self._runtime.memories[snapshot.uid]
            decision = manager.decide(snapshot, self.view, memory)
            if not decision.deferred:
                memory.touch = memory.sync_requested = False
            if decision.work is not None:
                memory.in_flight = True
                report.started_work += 1
                self._start(manager, snapshot, decision)
            elif decision.patch:
                writes.append(self._write(manager, snapshot, decision.patch))
            if decision.settled:
                self._runtime.memories.teardown_finished(snapshot.uid)
            report.awaiting_aws |= decision.awaiting_aws
        report.patched = sum(await asyncio.gather(*writes))

    def _start(self, manager: Manager, snapshot: ObjectSnapshot, decision: Decision) -> None:
        assert decision.work is not None
        task = asyncio.create_task(self._finish(manager, snapshot, decision.work()))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _finish(self, manager: Manager, snapshot: ObjectSnapshot, work: Any) -> None:
        memories = self._runtime.memories
        try:
            result: WorkResult = await work
        except Exception:
            object_logger(
                logger, kind=manager.kind.kind, namespace=snapshot.namespace, name=snapshot.name
            ).exception("Unexpected failure; retrying with backoff")
            result = WorkResult(None, Failure.RECOVERABLE)
        try:
            if result.patch:
                await self._write(manager, snapshot, result.patch)
        finally:
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
        self.kick(TRANSITION_RECHECK_SECONDS if result.awaiting_aws else 0.0)

    async def _unobserved(
        self, work: list[tuple[Manager, ObjectSnapshot]], error: AwsCallError, report: PassReport
    ) -> None:
        """The listing failed: no object's phase changes; each says it is not synced."""
        rule = classify(error)
        report.failed = rule.reason
        self.health.failed(self.region, rule, error)
        problem = Problem(rule.reason, describe(error, ErrorContext(region=self.region)), False)
        writes = []
        for manager, snapshot in work:
            patch = manager.unobserved(snapshot, problem)
            if patch:
                writes.append(self._write(manager, snapshot, patch))
        report.patched = sum(await asyncio.gather(*writes))

    async def _write(
        self, manager: Manager, snapshot: ObjectSnapshot, patch: Mapping[str, Any]
    ) -> bool:
        """Write a status patch; best effort (a failure is retried by the next pass)."""
        log = object_logger(
            logger, kind=manager.kind.kind, namespace=snapshot.namespace, name=snapshot.name
        )
        async with self._writes:
            try:
                written = await asyncio.to_thread(
                    self._runtime.kube.patch_status,
                    manager.kind,
                    snapshot.namespace,
                    snapshot.name,
                    patch,
                )
            except Exception as exc:  # the next pass computes and writes it again
                log.warning("Status update failed, retrying next pass: %s", exc)
                return False
        if not written:
            return False
        self._runtime.index[manager.kind].remember_status(snapshot.namespace, snapshot.name, patch)
        if "phase" in patch:
            log.info("Phase now %s", patch["phase"])
            await self._announce(manager, snapshot, patch)
        return True

    async def _announce(
        self, manager: Manager, snapshot: ObjectSnapshot, patch: Mapping[str, Any]
    ) -> None:
        """Record an Event on a phase change, so `kubectl describe` shows the history.
        Best effort: a failed Event never fails the pass."""
        stalled = any(
            c["type"] == "Stalled" and c["status"] == "True" for c in patch.get("conditions", [])
        )
        ref = ObjectRef(manager.kind.kind, snapshot.namespace, snapshot.name, snapshot.uid)
        try:
            await asyncio.to_thread(
                self._runtime.kube.record_event,
                ref,
                reason=str(patch["phase"]),
                message=str(patch.get("message", "")),
                warning=stalled,
                now=self._runtime.clock(),
            )
        except Exception as exc:  # Events are informational
            logger.debug("Could not record an Event for %s/%s: %s", ref.namespace, ref.name, exc)

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
            "Pass of %s: %d objects, %d managed endpoints%s, %d status updates, "
            "%d started in AWS, %.2fs",
            report.region,
            report.objects,
            report.endpoints,
            "" if report.listed else " (listing reused)",
            report.patched,
            report.started_work,
            report.duration,
        )

    def _endpoints(self) -> TransitEndpoints:
        return self._runtime.transit_endpoints(self.region)


def _older_than(age: float | None, seconds: float) -> bool:
    return age is None or age > seconds


async def _until(stopped: asyncio.Event, waiting: Any, timeout: float | None = None) -> None:
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
