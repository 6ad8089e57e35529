"""Runs the operator: kopf's watch/handler machinery plus one poller per region,
sharing one Runtime and one stop signal. `causeway run`, the demo, the e2e tests
and the benchmark all start the operator through `run_operator`."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

import kopf

from causeway import handlers
from causeway.poller import RegionPoller
from causeway.runtime import Runtime

# Must differ from causeway.dev: kopf drops annotations under its storage prefix from
# the diff, and then it would not see a new causeway.dev/sync value.
KOPF_PREFIX = "kopf.causeway.dev"
FINALIZER = "causeway.dev/teardown"

LoginFn = Callable[..., Awaitable[kopf.ConnectionInfo | None] | kopf.ConnectionInfo | None]


class _QuietIndexing(logging.Filter):
    """Drops kopf's per-event "Handler 'outbound-index' succeeded." lines: the index hook
    runs on every watch event, and those lines would drown the useful ones."""

    _NOISE = f"Handler '{handlers.INDEX_HANDLER_ID}' succeeded."

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self._NOISE


def build_settings() -> kopf.OperatorSettings:
    """kopf settings: our own finalizer, bookkeeping in annotations, quiet events."""
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.execution.max_workers = 16
    return settings


def build_registry(runtime: Runtime, login: LoginFn | None = None) -> kopf.OperatorRegistry:
    """A fresh registry holding Causeway's handlers (no global state, so tests can run
    several operators one after another in one process)."""
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(login or kopf.login_via_client)
    handlers.register(registry, runtime)
    return registry


async def run_operator(
    runtime: Runtime,
    *,
    login: LoginFn | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
    liveness_endpoint: str | None = None,
) -> None:
    """Run until `stop_flag` is set (or SIGINT/SIGTERM in the main thread)."""
    quiet = _QuietIndexing()
    logging.getLogger("kopf.objects").addFilter(quiet)
    pollers_stopped = asyncio.Event()
    pollers = [
        asyncio.create_task(
            RegionPoller(runtime, region).run(pollers_stopped), name=f"poller-{region}"
        )
        for region in runtime.config.regions
    ]
    try:
        await kopf.operator(
            registry=build_registry(runtime, login),
            settings=build_settings(),
            clusterwide=True,
            standalone=True,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
            liveness_endpoint=liveness_endpoint,
        )
    finally:
        pollers_stopped.set()
        await asyncio.gather(*pollers, return_exceptions=True)
        logging.getLogger("kopf.objects").removeFilter(quiet)
