"""Runs the operator: kopf's watch/handler machinery plus one reconciler per region,
the credential controller and the metering controller, sharing one Runtime and one
stop signal. `causeway run`, the demo, the e2e tests
and the benchmark all start the operator through `run_operator`."""

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
from causeway.controllers.credentials import CredentialController
from causeway.controllers.leadership import Leadership
from causeway.controllers.metering import MeteringController
from causeway.controllers.region import RegionReconciler
from causeway.controllers.secret_watches import SecretWatches
from causeway.runtime import Runtime

# Must differ from causeway.dev: kopf drops annotations under its storage prefix from
# the diff, and then it would not see a new causeway.dev/sync value.
KOPF_PREFIX = "kopf.causeway.dev"
FINALIZER = api.FINALIZER

LoginFn = Callable[..., Awaitable[kopf.ConnectionInfo | None] | kopf.ConnectionInfo | None]


class _QuietBookkeeping(logging.Filter):
    """Drops kopf's per-event "Handler '…-index' succeeded." lines: the index and event
    hooks run on every watch event, and those lines would drown the useful ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            message.startswith("Handler '")
            and message.endswith(("-index' succeeded.", "-events' succeeded."))
        )


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
    # Causeway's kinds are fixed and checked at start (startup.check_cluster), so kopf
    # need not watch CustomResourceDefinitions: the operator's role grants no access
    # to them (least privilege; CRDs are cluster-wide and admin-owned).
    settings.scanning.disabled = True
    return settings


def build_registry(
    runtime: Runtime,
    credentials: CredentialController,
    login: LoginFn | None = None,
    *,
    acting: bool = True,
) -> kopf.OperatorRegistry:
    """A fresh registry holding Causeway's handlers (no global state, so tests can run
    several operators one after another in one process); a standby's (`acting` False)
    holds only the handlers that keep the index current."""
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(login or kopf.login_via_client)
    if acting:
        handlers.register(registry, runtime, credentials)
    else:
        handlers.register_watching(registry, runtime, credentials)
    return registry


# How kopf fits leader election. kopf's own peering pauses a standby's watch streams
# altogether (a cold index, relisted at takeover) and judges liveness by wall-clock
# timestamps of peers, with no fencing; so it is off (standalone), and the Lease
# election (causeway.election) decides instead. A standby must not let kopf write
# either: with change handlers registered, kopf adds our finalizer to new objects and
# stores its last-handled state in annotations; with none registered (or filtered out
# by `when=`), kopf *removes* a finalizer it no longer needs. So a standby runs kopf
# with only index and raw-event handlers (which never write) and a finalizer name no
# object carries, so kopf neither adds nor removes ours: its watches and the cluster
# index stay warm. On acquiring the Lease that kopf stops and the acting one starts:
# it re-lists once (kopf's resume handlers need that pass, and they rewrite nothing),
# while the reconcilers already work from the warm index. Behind kopf, every AWS call
# and every Kubernetes write of Causeway's own goes through the fence (causeway.fence),
# which the election closes the moment the renew deadline passes.
STANDBY_FINALIZER = "causeway.dev/standby-never-set"


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
    """Run until `stop_flag` is set. With `handle_signals` (the main thread of `causeway
    run`), the first SIGINT/SIGTERM stops the operator gracefully and a second one exits
    at once, quietly. With `leadership`, stand by until the Lease is acquired, then act
    until stopped (the Lease is then released) or until it is lost (LeadershipLostError)."""
    stopped = asyncio.Event()
    stop_watch = asyncio.create_task(_follow(stop_flag, stopped), name="operator stop flag")
    quiet = _QuietBookkeeping()
    logging.getLogger("kopf.objects").addFilter(quiet)
    credentials = CredentialController(runtime)
    secret_watches = _watch_secrets(runtime, credentials)
    kopf_run = _KopfRun(login, liveness_endpoint, ready_flag, stopped if handle_signals else None)
    election_task = None
    try:
        if leadership is None:
            runtime.metrics.leader(leading=True)
            await _act(runtime, credentials, kopf_run, stopped, None)
            return
        runtime.fence(leadership.may_act)
        runtime.metrics.leader(leading=False)
        election_task = asyncio.create_task(leadership.run(stopped), name="leader election")
        # The first replica usually wins its first attempt: then it acts at once, without
        # starting (and at once stopping) a standby kopf.
        await _any_of(stopped, leadership.attempted)
        if not (stopped.is_set() or leadership.acquired.is_set() or leadership.lost.is_set()):
            await kopf_run.standby(runtime, credentials, stopped, leadership)
        if leadership.acquired.is_set() and not (stopped.is_set() or leadership.lost.is_set()):
            await _act(runtime, credentials, kopf_run, stopped, leadership)
    finally:
        stop_watch.cancel()
        secret_watches.stop()
        if election_task is not None:
            election_task.cancel()
            await asyncio.gather(election_task, return_exceptions=True)
        logging.getLogger("kopf.objects").removeFilter(quiet)
    if leadership.lost.is_set():
        raise LeadershipLostError(f"lost the leader Lease {leadership.lease}")
    if leadership.acquired.is_set():
        await leadership.release()


class LeadershipLostError(Exception):
    """This replica led and then could not keep its Lease: it stopped acting; the
    process exits so it restarts as a standby with fresh memory."""


async def _act(
    runtime: Runtime,
    credentials: CredentialController,
    kopf_run: _KopfRun,
    stopped: asyncio.Event,
    leadership: Leadership | None,
) -> None:
    """The acting operator: controllers plus kopf with every handler, until stopped or
    (with leadership) the Lease is lost."""
    acting_over = asyncio.Event()
    over = asyncio.create_task(
        _first_of(acting_over, stopped, *(() if leadership is None else (leadership.lost,))),
        name="acting until",
    )
    # The controllers stop together with kopf, not after it: kopf, stopping, waits up to
    # 5 s for every task started while it ran (the controllers' own waits among them),
    # which would hold up the Lease's release by as much.
    tasks = _start_controllers(runtime, credentials, acting_over)
    try:
        await kopf_run.run(
            build_registry(runtime, credentials, kopf_run.login), build_settings(), acting_over
        )
    finally:
        over.cancel()
        acting_over.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def _start_controllers(
    runtime: Runtime, credentials: CredentialController, stopped: asyncio.Event
) -> list[asyncio.Task[None]]:
    tasks = []
    for region in runtime.config.regions:
        reconciler = RegionReconciler(runtime, region)
        runtime.on_kick(region, reconciler.kick)
        tasks.append(asyncio.create_task(reconciler.run(stopped), name=f"region-{region}"))
    tasks.append(asyncio.create_task(credentials.run(stopped), name="credentials"))
    metering = MeteringController(runtime)
    runtime.on_metering_kick(metering.kick)
    tasks.append(asyncio.create_task(metering.run(stopped), name="metering"))
    return tasks


class _KopfRun:
    """Runs kopf (once or twice: standby, then acting) with the same login, liveness
    endpoint and signal handling."""

    def __init__(
        self,
        login: LoginFn | None,
        liveness_endpoint: str | None,
        ready_flag: asyncio.Event | threading.Event | None,
        signal_stop: asyncio.Event | None,
    ) -> None:
        self.login = login
        self._liveness = liveness_endpoint
        self._ready_flag = ready_flag
        self._signal_stop = signal_stop

    async def standby(
        self,
        runtime: Runtime,
        credentials: CredentialController,
        stopped: asyncio.Event,
        leadership: Leadership,
    ) -> None:
        """Watch (index warm, nothing written) until the Lease is acquired or lost, or
        the operator is stopped."""
        standby_over = asyncio.Event()
        over = asyncio.create_task(
            _first_of(standby_over, stopped, leadership.acquired, leadership.lost),
            name="standby until",
        )
        registry = build_registry(runtime, credentials, self.login, acting=False)
        try:
            await self.run(registry, build_settings(finalizer=STANDBY_FINALIZER), standby_over)
        finally:
            over.cancel()

    async def run(
        self, registry: kopf.OperatorRegistry, settings: kopf.OperatorSettings, stop: asyncio.Event
    ) -> None:
        kopf_ready = asyncio.Event()
        started = asyncio.create_task(
            _when_ready(kopf_ready, self._ready_flag, self._signal_stop),
            name="operator readiness",
        )
        try:
            await kopf.operator(
                registry=registry,
                settings=settings,
                clusterwide=True,
                standalone=True,
                stop_flag=stop,
                ready_flag=kopf_ready,
                liveness_endpoint=self._liveness,
            )
        finally:
            started.cancel()


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


async def _first_of(target: asyncio.Event, *events: asyncio.Event) -> None:
    """Set `target` as soon as any of `events` is set."""
    await _any_of(*events)
    target.set()


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


async def _when_ready(
    kopf_ready: asyncio.Event,
    ready_flag: asyncio.Event | threading.Event | None,
    signal_stop: asyncio.Event | threading.Event | None,
) -> None:
    """Once kopf is up: tell the caller, and take SIGINT/SIGTERM over from kopf (whose
    handler fails with InvalidStateError on a second signal)."""
    await kopf_ready.wait()
    if isinstance(signal_stop, asyncio.Event):
        _take_over_signals(signal_stop)
    if ready_flag is not None:
        ready_flag.set()


def _take_over_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _on_signal, stop, signum)


def _on_signal(stop: asyncio.Event, signum: int) -> None:
    name = signal.Signals(signum).name
    if not stop.is_set():
        logging.getLogger("causeway.operator").info(
            "%s received: stopping (send it again to exit at once)", name
        )
        stop.set()
        return
    exit_now(signum)


def exit_now(signum: int) -> NoReturn:
    """A second SIGINT/SIGTERM: leave at once (no cleanup), saying so in one line."""
    sys.stderr.write(f"causeway: second {signal.Signals(signum).name}: exiting now\n")
    sys.stderr.flush()
    os._exit(128 + signum)
