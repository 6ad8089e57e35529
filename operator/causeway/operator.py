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

import kopf

from causeway import handlers
from causeway.controllers.credentials import CredentialController
from causeway.controllers.metering import MeteringController
from causeway.controllers.region import RegionReconciler
from causeway.controllers.secret_watches import SecretWatches
from causeway.runtime import Runtime

# Must differ from causeway.dev: kopf drops annotations under its storage prefix from
# the diff, and then it would not see a new causeway.dev/sync value.
KOPF_PREFIX = "kopf.causeway.dev"
FINALIZER = "causeway.dev/teardown"

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


def build_settings() -> kopf.OperatorSettings:
    """kopf settings: our own finalizer, bookkeeping in annotations, quiet events."""
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = FINALIZER
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
    runtime: Runtime, credentials: CredentialController, login: LoginFn | None = None
) -> kopf.OperatorRegistry:
    """A fresh registry holding Causeway's handlers (no global state, so tests can run
    several operators one after another in one process)."""
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(login or kopf.login_via_client)
    handlers.register(registry, runtime, credentials)
    return registry


async def run_operator(
    runtime: Runtime,
    *,
    login: LoginFn | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
    liveness_endpoint: str | None = None,
    handle_signals: bool = False,
) -> None:
    """Run until `stop_flag` is set. With `handle_signals` (the main thread of `causeway
    run`), the first SIGINT/SIGTERM stops the operator gracefully and a second one exits
    at once, quietly."""
    if handle_signals:
        stop_flag = stop_flag or asyncio.Event()
    kopf_ready = asyncio.Event()
    started = asyncio.create_task(
        _when_ready(kopf_ready, ready_flag, stop_flag if handle_signals else None),
        name="operator readiness",
    )
    quiet = _QuietBookkeeping()
    logging.getLogger("kopf.objects").addFilter(quiet)
    controllers_stopped = asyncio.Event()
    tasks = []
    for region in runtime.config.regions:
        reconciler = RegionReconciler(runtime, region)
        runtime.on_kick(region, reconciler.kick)
        tasks.append(
            asyncio.create_task(reconciler.run(controllers_stopped), name=f"region-{region}")
        )
    credentials = CredentialController(runtime)
    tasks.append(asyncio.create_task(credentials.run(controllers_stopped), name="credentials"))
    metering = MeteringController(runtime)
    runtime.on_metering_kick(metering.kick)
    tasks.append(asyncio.create_task(metering.run(controllers_stopped), name="metering"))
    secret_watches = _watch_secrets(runtime, credentials)
    try:
        await kopf.operator(
            registry=build_registry(runtime, credentials, login),
            settings=build_settings(),
            clusterwide=True,
            standalone=True,
            stop_flag=stop_flag,
            ready_flag=kopf_ready,
            liveness_endpoint=liveness_endpoint,
        )
    finally:
        started.cancel()
        controllers_stopped.set()
        secret_watches.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        logging.getLogger("kopf.objects").removeFilter(quiet)


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
    sys.stderr.write(f"causeway: second {name}: exiting now\n")
    sys.stderr.flush()
    os._exit(128 + signum)
