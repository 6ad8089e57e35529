"""Runs the operator: kopf's watch/handler machinery plus one reconciler per region,
the credential controller and the metering controller, sharing one Runtime and one
stop signal, and what a stop does: bounded (no more AWS calls at once, those in flight
get a few seconds, the Lease handed back), also on a second signal. `causeway run`,
the demo, the e2e tests and the benchmark all start the operator through
`run_operator`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import NoReturn

import kopf

from causeway import api, handlers
from causeway.controllers.budget import Budget
from causeway.controllers.credentials import CredentialController
from causeway.controllers.leadership import Leadership
from causeway.controllers.metering import MeteringController
from causeway.controllers.region import RegionReconciler
from causeway.controllers.secret_watches import SecretWatches
from causeway.controllers.stopping import StopTimer, report_slow_stop
from causeway.controllers.unserved import report_unserved
from causeway.controllers.waiting import until
from causeway.controllers.writer import StatusWriter
from causeway.health import HealthServer
from causeway.index import ObjectSnapshot
from causeway.index.informer import ClusterInformers
from causeway.kopf_run import KopfRun, LoginFn, cancel_leftovers
from causeway.runtime import Runtime

# Must differ from causeway.dev: kopf drops annotations under its storage prefix from
# the diff, and then it would not see a new causeway.dev/sync value.
KOPF_PREFIX = "kopf.causeway.dev"
FINALIZER = api.FINALIZER

# A graceful stop (the first SIGTERM: a rolling update, a drain) must end well inside
# the pod's terminationGracePeriodSeconds (the chart sets 30 s, its schema at least 15):
# at the signal the AWS budget closes (queued calls fail at once, unsent); the calls
# already sent get IN_FLIGHT_SECONDS to answer and have their results written; then
# the Lease is handed back (at most leadership.RELEASE_SECONDS) and the process exits:
# some 13 s at worst. Beyond that, a call still under way is abandoned: it was recorded
# before it was sent and is idempotent (ClientTokens, owner tags), so the next leader
# adopts its result.
IN_FLIGHT_SECONDS = 5.0
# What is left on the loop of kopf's run once the work in flight has had its time is
# cancelled, and given this long to end.
LEFTOVER_SECONDS = 1.0
# A second signal: the Lease is still handed back, if held, waiting at most this long.
SECOND_SIGNAL_RELEASE_SECONDS = 2.0
# kopf starts once every region has passed once, or after this long whatever happens.
KOPF_AFTER_FIRST_PASS_SECONDS = 30.0


def build_settings(*, finalizer: str = FINALIZER) -> kopf.OperatorSettings:
    """kopf settings: our own finalizer, bookkeeping in annotations, quiet events."""
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = finalizer
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration"
    )
    # Causeway records its own Events (events.k8s.io, on phase changes); kopf's would
    # only repeat handler failures the log already has, and need one more permission.
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.execution.max_workers = 16
    # A per-object worker that handled its event exits after this long without another
    # (kopf's default: 5 s), and with it the object's body it holds. At a start kopf
    # handles every listed object, about 1 ms apiece: with 5 s some 5,000 bodies were
    # held at once at 10,000 objects (the restart's peak: 298 MiB; with 0.5 s, 238 MiB,
    # bench/restart.py). kopf's wait for its own patch to come back is not shortened.
    settings.queueing.idle_timeout = 0.5
    # Causeway's kinds are fixed and checked at start (startup.check_cluster), so kopf
    # need not watch CustomResourceDefinitions: the operator's role grants no access
    # to them (least privilege; CRDs are cluster-wide and admin-owned).
    settings.scanning.disabled = True
    return settings


def build_registry(
    runtime: Runtime, credentials: CredentialController, login: LoginFn | None = None
) -> kopf.OperatorRegistry:
    """A fresh registry holding Causeway's handlers (no global state, so tests can run
    several operators one after another in one process)."""
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(login or kopf.login_via_client)
    handlers.register(registry, runtime, credentials)
    return registry


# How kopf fits leader election. kopf's own peering pauses a standby's watch streams
# altogether (a cold index, relisted at takeover) and judges liveness by wall-clock
# timestamps of peers, with no fencing; so it is off (standalone), and the Lease
# election (causeway.election) decides instead. kopf runs only while this replica
# acts: with change handlers registered it writes (finalizers, its last-handled state),
# and with none it *removes* a finalizer it no longer needs. The cluster index does not
# need kopf: its informers (causeway.index.informer) list and watch every kind from the
# start, on a standby too, so a standby is warm (and Ready) within seconds and keeps
# its index across the takeover; on acquiring the Lease the controllers start at once
# on it and kopf starts once every region has passed once (no resume handlers: the
# passes look at every object). Behind kopf, every AWS call and every Kubernetes
# write of Causeway's own goes through the fence (causeway.fence), which the election
# closes the moment the renew deadline passes.


async def run_operator(
    runtime: Runtime,
    *,
    login: LoginFn | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
    liveness_endpoint: str | None = None,
    handle_signals: bool = False,
    leadership: Leadership | None = None,
) -> None:
    """Run until `stop_flag` is set. The cluster index is listed and watched from the
    start; `ready_flag` is set once it is synced and the replica acts (kopf is up) or
    stands by. `liveness_endpoint` serves liveness there and readiness (index synced) at
    /readyz beside it. With `handle_signals` (the main thread of `causeway run`), the
    first SIGINT/SIGTERM stops the operator gracefully and a second one exits at once,
    quietly, handing the Lease back first if held (see Signals). With `leadership`,
    stand by (once the index is synced) until the Lease is acquired, then act until
    stopped (the Lease is then released) or until it is lost (LeadershipLostError)."""
    stopped = asyncio.Event()
    stop_watch = asyncio.create_task(_follow(stop_flag, stopped), name="operator stop flag")
    timer = StopTimer(runtime.monotonic)
    slow_stop = asyncio.create_task(report_slow_stop(timer), name="slow stop report")
    signals = Signals(stopped, runtime.budget, leadership)
    if handle_signals:
        signals.take_over()
    credentials = CredentialController(runtime)
    secret_watches = _watch_secrets(runtime, credentials)
    hooks = IndexHooks(runtime, credentials)
    informers = _start_informers(runtime, hooks)
    health = await _serve_health(runtime, liveness_endpoint)
    # Once kopf is up, SIGINT/SIGTERM are taken back from kopf, whose own handler fails
    # (InvalidStateError) on a second signal.
    kopf_run = KopfRun(login, ready_flag, signals.take_over if handle_signals else None)
    election_task = None
    try:
        await _any_of(stopped, runtime.index.ready)
        if stopped.is_set():
            return
        if leadership is None:
            runtime.metrics.leader(leading=True)
            hooks.acting = True
            await _act(runtime, credentials, kopf_run, stopped, None, timer=timer)
            return
        runtime.fence(leadership.may_act)
        runtime.metrics.leader(leading=False)
        # Only a warm replica stands for election: a cold one that won would first list.
        election_task = asyncio.create_task(leadership.run(stopped), name="leader election")
        await _any_of(stopped, leadership.attempted)
        if not (stopped.is_set() or leadership.acquired.is_set() or leadership.lost.is_set()):
            _set(ready_flag)  # a standby: warm, not acting
            await _any_of(stopped, leadership.acquired, leadership.lost)
        if leadership.acquired.is_set() and not (stopped.is_set() or leadership.lost.is_set()):
            hooks.acting = True
            await _act(runtime, credentials, kopf_run, stopped, leadership, timer=timer)
    finally:
        timer.begin()
        stop_watch.cancel()
        secret_watches.stop()
        informers.stop()
        if health is not None:
            await health.stop()
        if election_task is not None:
            election_task.cancel()
            await asyncio.gather(election_task, return_exceptions=True)
        timer.step("watches")
        await _hand_back(leadership, timer)
        slow_stop.cancel()
    if leadership is not None and leadership.lost.is_set():
        raise LeadershipLostError(f"lost the leader Lease {leadership.lease}")


async def _hand_back(leadership: Leadership | None, timer: StopTimer) -> None:
    """The stop's last step: the Lease handed back if this replica leads; then say how
    long the stop took."""
    if leadership is not None and leadership.acquired.is_set() and not leadership.lost.is_set():
        await leadership.release()
        timer.step("Lease handed back")
    timer.finished = True
    logging.getLogger("causeway.operator").info("Stopped in %s", timer.summary())


class IndexHooks:
    """What the index's informers tell the rest of the operator, on its event loop:
    a deleted object's memory is forgotten; an OutboundConnection's every change goes to
    the credential controller (a credential follows its connection's status); a change
    beyond the status (spec, finalizers, deletion, annotations) kicks the region of a
    connection, every region for a ConnectionQuota (licenses are judged cluster-wide),
    the credential controller for a NamedCredential (only while acting: the first
    evaluation starts its Secret watches). Status-only changes kick nothing: the
    operator wrote them."""

    def __init__(self, runtime: Runtime, credentials: CredentialController) -> None:
        self._runtime = runtime
        self._credentials = credentials
        self.acting = False

    def changed(
        self,
        kind: api.KindInfo,
        event: str,
        before: ObjectSnapshot | None,
        now: ObjectSnapshot,
    ) -> None:
        runtime = self._runtime
        if event == "DELETED":
            runtime.memories.forget(now.uid)
        if kind is api.OUTBOUND:
            self._credentials.connection_changed(*now.key)
        if event == "LISTED" and before is not None and before.essence == now.essence:
            return
        if event == "MODIFIED" and before is not None and before.essence == now.essence:
            return
        if kind in (api.OUTBOUND, api.INBOUND):
            runtime.kick(now.region)
        elif kind is api.CONNECTION_QUOTA:
            runtime.kick_all()
        elif kind is api.NAMED_CREDENTIAL and self.acting:
            self._credentials.credential_changed(*now.key, touch=False)


def _start_informers(runtime: Runtime, hooks: IndexHooks) -> ClusterInformers:
    """List and watch every kind into the runtime's index (threads), calling `hooks` and
    setting `runtime.index.ready` on this loop."""
    loop = asyncio.get_running_loop()

    def changed(
        kind: api.KindInfo, event: str, before: ObjectSnapshot | None, now: ObjectSnapshot
    ) -> None:
        loop.call_soon_threadsafe(hooks.changed, kind, event, before, now)

    def synced() -> None:
        loop.call_soon_threadsafe(_synced, runtime)

    informers = ClusterInformers(
        runtime.index,
        runtime.kube.objects(),
        on_change=changed,
        on_synced=synced,
        monotonic=runtime.monotonic,
    )
    informers.start()
    return informers


def _synced(runtime: Runtime) -> None:
    if not runtime.index.ready.is_set():
        logging.getLogger("causeway.index").info(
            "Cluster index synced: %d objects",
            sum(len(runtime.index[k].all()) for k in runtime.index.kinds),
        )
    runtime.index.ready.set()


async def _serve_health(runtime: Runtime, url: str | None) -> HealthServer | None:
    if url is None:
        return None
    server = HealthServer(
        url,
        # The loop's flag, not the informers' `synced`: it is set just after the "index
        # synced" line is logged, so a probe that answers Ready never precedes that line.
        ready=runtime.index.ready.is_set,
        details=lambda: runtime.index.ages(runtime.monotonic()),
    )
    await server.start()
    return server


def _set(flag: asyncio.Event | threading.Event | None) -> None:
    if flag is not None:
        flag.set()


class LeadershipLostError(Exception):
    """This replica led and then could not keep its Lease: it stopped acting; the
    process exits so it restarts as a standby with fresh memory."""


async def _act(
    runtime: Runtime,
    credentials: CredentialController,
    kopf_run: KopfRun,
    stopped: asyncio.Event,
    leadership: Leadership | None,
    *,
    timer: StopTimer,
) -> None:
    """The acting operator: controllers plus kopf with every handler, until stopped or
    (with leadership) the Lease is lost; then no more AWS calls, and those in flight get
    IN_FLIGHT_SECONDS."""
    acting_over = asyncio.Event()
    runtime.budget.open()
    ends = (stopped,) if leadership is None else (stopped, leadership.lost)
    over = asyncio.create_task(
        _stop_acting(acting_over, runtime.budget, timer, *ends), name="acting until"
    )
    # The controllers stop together with kopf, not after it: the Lease waits for both.
    tasks, first_passes = _start_controllers(runtime, credentials, acting_over)
    try:
        # kopf starts once every region has had its first pass: listing every object,
        # kopf then works through each of them on this loop (about 1 ms apiece), and the
        # first pass, which acts on whatever changed while no replica acted, would
        # share the loop with it.
        await until(acting_over, first_passes, timeout=KOPF_AFTER_FIRST_PASS_SECONDS)
        if acting_over.is_set():
            return
        await kopf_run.run(
            build_registry(runtime, credentials, kopf_run.login), build_settings(), acting_over
        )
        timer.step("kopf")
    finally:
        now = asyncio.get_running_loop().time()
        # The grace counts from the stop itself, which kopf's stop ran beside.
        stopping_at = over.result() if over.done() else now
        over.cancel()
        acting_over.set()
        runtime.budget.close()
        await wind_down(tasks, max(0.0, stopping_at + IN_FLIGHT_SECONDS - now))
        timer.step("work in flight")
        # What kopf's run left behind (its strays; a controller's fire-and-forget
        # helpers) ends now: nothing of it may outlive the Lease.
        await cancel_leftovers(kopf_run.leftovers(), LEFTOVER_SECONDS)
        timer.step("leftovers")


async def _stop_acting(
    acting_over: asyncio.Event, budget: Budget, timer: StopTimer, *events: asyncio.Event
) -> float:
    """As soon as any of `events` is set: acting is over, and the AWS budget closes at
    once (its queue fails now), not once kopf has stopped. Returns when (loop time)."""
    await _any_of(*events)
    timer.begin()
    acting_over.set()
    budget.close()
    return asyncio.get_running_loop().time()


async def wind_down(tasks: list[asyncio.Task[None]], seconds: float) -> None:
    """Give the controllers `seconds` to finish what is in flight (their queued AWS
    calls fail at once: the budget is closed), then cancel what is left."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    if pending:
        logging.getLogger("causeway.operator").warning(
            "Stopping: %d controllers had not finished their work in flight (AWS calls, "
            "status writes) after %gs; abandoning it (AWS calls are idempotent: the next "
            "leader adopts their results)",
            len(pending),
            seconds,
        )
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=seconds)


def _start_controllers(
    runtime: Runtime, credentials: CredentialController, stopped: asyncio.Event
) -> tuple[list[asyncio.Task[None]], Awaitable[object]]:
    """The controllers' tasks, and what is done once every region has passed once."""
    tasks = []
    reconcilers = []
    for region in runtime.config.regions:
        reconciler = RegionReconciler(runtime, region)
        reconcilers.append(reconciler)
        runtime.on_kick(region, reconciler.kick)
        tasks.append(asyncio.create_task(reconciler.run(stopped), name=f"region-{region}"))
    tasks.append(asyncio.create_task(credentials.run(stopped), name="credentials"))
    writer = StatusWriter(runtime.kube, runtime.index, runtime.clock)
    tasks.append(asyncio.create_task(_report_unserved(runtime, writer), name="unserved"))
    metering = MeteringController(runtime)
    runtime.on_metering_kick(metering.kick)
    tasks.append(asyncio.create_task(metering.run(stopped), name="metering"))
    return tasks, asyncio.gather(*(r.passed.wait() for r in reconcilers))


async def _report_unserved(runtime: Runtime, writer: StatusWriter) -> None:
    await report_unserved(runtime, writer)  # a write refused is written by the next start


async def _follow(flag: asyncio.Event | threading.Event | None, stopped: asyncio.Event) -> None:
    """Mirror the caller's stop flag (either kind) onto the loop's own event."""
    if flag is None:
        return
    if isinstance(flag, asyncio.Event):
        await flag.wait()
    else:
        while not flag.is_set():
            await asyncio.sleep(0.1)
    stopped.set()


async def _any_of(*events: asyncio.Event) -> None:
    """Return once any of `events` is set."""
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _watch_secrets(runtime: Runtime, credentials: CredentialController) -> SecretWatches:
    """Watch the Secrets' metadata of the namespaces holding credentials (threads: the
    client is synchronous), handing each change, and each namespace's refusal or
    consent, to the credential controller on this loop. `stop()` ends the watches."""
    loop = asyncio.get_running_loop()

    def changed(namespace: str, name: str, version: str, deleted: bool) -> None:
        loop.call_soon_threadsafe(credentials.secret_changed, namespace, name, version, deleted)

    def access(namespace: str, allowed: bool) -> None:
        loop.call_soon_threadsafe(credentials.secret_access, namespace, allowed)

    watches = SecretWatches(runtime.kube.secrets, changed, access)
    credentials.watch_secrets_with(watches.follow)
    return watches


def exit_now(signum: int) -> NoReturn:
    """A second SIGINT/SIGTERM: leave at once, saying so in one line (no cleanup beyond
    handing the Lease back, which Signals does first)."""
    sys.stderr.write(f"causeway: second {signal.Signals(signum).name}: exiting now\n")
    sys.stderr.flush()
    os._exit(128 + signum)


class Signals:
    """What SIGINT and SIGTERM do (`causeway run`). The first stops gracefully: the AWS
    budget closes in the handler itself (no queued call is sent after it), and
    `stop` is set (calls in flight get IN_FLIGHT_SECONDS, the Lease is released, the
    process exits). A second exits at once, but still hands the Lease back first if
    this replica holds it (at most SECOND_SIGNAL_RELEASE_SECONDS): a standby then takes
    over within a retry period instead of waiting out the lease duration."""

    def __init__(
        self,
        stop: asyncio.Event,
        budget: Budget,
        leadership: Leadership | None,
        *,
        exit_process: Callable[[int], None] = exit_now,
    ) -> None:
        self._stop = stop
        self._budget = budget
        self._leadership = leadership
        self._exit = exit_process

    def take_over(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.received, signum)

    def received(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if not self._stop.is_set():
            logging.getLogger("causeway.operator").info(
                "%s received: stopping (send it again to exit at once)", name
            )
            self._budget.close()
            self._stop.set()
            return
        if self._leadership is not None:
            self._leadership.release_now(SECOND_SIGNAL_RELEASE_SECONDS)
        self._exit(signum)
