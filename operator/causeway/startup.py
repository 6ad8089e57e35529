"""`causeway run`, from the command line to a running operator: check the config, the
probe address, the cluster and the AWS identity, say in a few lines what is starting,
then run until a signal. Every problem found here is one line for the user (the
CLI turns the exception into an exit code); nothing is half-started."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import NoReturn

from causeway import __version__
from causeway.allocator import cap_malloc_arenas, trim_periodically
from causeway.api import ALL_KINDS
from causeway.aws.identity import caller_identity
from causeway.aws.session import ClientFactory
from causeway.clock import utc_now
from causeway.config import CONFIG_ENV, OperatorConfig, load_config
from causeway.controllers.leadership import Leadership
from causeway.election import ElectionTiming, Elector
from causeway.errors import AwsCallError, classify
from causeway.kube import ClusterConnection, KubeApi, check_cluster, load_cluster
from causeway.kube.leases import LeaseStoreApi, lease_request_timeout
from causeway.kube.reader import current_namespace
from causeway.listen import ListenAddress, ensure_free, parse_host_port, parse_listen_url
from causeway.operator import LeadershipLostError, exit_now, run_operator
from causeway.problems import UnavailableError
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.startup")

DEFAULT_LEASE_NAME = "causeway-leader"
EXIT_LEADERSHIP_LOST = 1


@dataclass(frozen=True)
class RunOptions:
    """What `causeway run` was asked to do."""

    config_path: str | None
    liveness_url: str | None
    startup_timeout: float
    metrics_address: str | None = None  # HOST:PORT
    leader_elect: bool = True
    lease_name: str = DEFAULT_LEASE_NAME
    lease_namespace: str | None = None  # None: the pod's (or the kubeconfig context's)


def run(options: RunOptions) -> NoReturn:
    """Check everything, then run the operator until SIGINT/SIGTERM; then the process
    ends with status 0 (errors raise before: UserError, UnavailableError)."""
    cap_malloc_arenas()  # before any worker thread exists
    trim_periodically()
    config = load_config(options.config_path)
    liveness = _liveness(options.liveness_url)
    metrics = _metrics_address(options.metrics_address)
    cluster = load_cluster()
    kubernetes_version = check_cluster(
        cluster, kinds=ALL_KINDS, timeout=options.startup_timeout, on_retry=logger.warning
    )
    clients = ClientFactory()
    identity = _aws_identity(clients, config)
    _announce(config, options.config_path, cluster, kubernetes_version, identity)
    runtime = Runtime(config=config, clients=clients, kube=KubeApi(cluster.configuration))
    if metrics is not None:
        runtime.metrics.serve(metrics.host, metrics.port)
        logger.info("Serving Prometheus metrics on %s", metrics.url)
    leadership = _leadership(options, cluster, runtime) if options.leader_elect else None
    try:
        asyncio.run(
            run_operator(
                runtime, liveness_endpoint=liveness, handle_signals=True, leadership=leadership
            )
        )
    except LeadershipLostError as exc:
        # Exit, as client-go's users do: the restarted process is a standby with fresh memory.
        raise UnavailableError(f"{exc}; exiting so this replica restarts as a standby") from None
    finally:
        _exit_on_further_signals()
    _end_process()


def _exit_on_further_signals() -> None:
    """The event loop is closed (and with it the handler that made a second signal exit
    at once), but the process may still be finishing: a signal now also exits at once and
    quietly, never with a KeyboardInterrupt traceback."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _frame: exit_now(received))


def _end_process() -> NoReturn:
    """The graceful stop is done: end the process now. Interpreter finalization would put
    the default signal actions back (a second Ctrl-C or SIGTERM then kills the process
    with a bare signal instead of the one quiet line) and wait for threads nothing needs
    any more (a Secret watch's read)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _leadership(options: RunOptions, cluster: ClusterConnection, runtime: Runtime) -> Leadership:
    """The election on the Lease named by the options, as this pod (POD_NAME from the
    downward API, else the host name) plus a random suffix: two processes of one pod
    (a restart racing the old one's exit) are still two candidates."""
    namespace = options.lease_namespace or os.environ.get("POD_NAMESPACE") or current_namespace()
    timing = ElectionTiming()
    store = LeaseStoreApi(
        cluster.configuration,
        namespace,
        options.lease_name,
        request_timeout=lease_request_timeout(timing),
    )
    pod_name = os.environ.get("POD_NAME") or None
    pod = pod_name or socket.gethostname()
    elector = Elector(
        store,
        f"{pod}_{secrets.token_hex(4)}",
        pod=pod_name,  # a restarted container of this pod takes its Lease at once
        config_hash=runtime.config.fingerprint(),
        timing=timing,
        monotonic=awake_clock,
        wall_clock=utc_now,
    )

    def publish(leading: bool) -> None:
        runtime.metrics.leader(leading=leading)

    leadership = Leadership(
        elector, lease=f"{namespace}/{options.lease_name}", on_change=publish, on_lost=_exit_now
    )
    # A process resumed after SIGSTOP checks its deadline before anything else runs
    # (Python runs this handler in the main thread at once, not via the event loop).
    signal.signal(signal.SIGCONT, lambda *_: leadership.check_deadline())
    return leadership


def _exit_now() -> None:
    """A replica that lost the Lease exits at once, as client-go's users do: kopf's queued
    events must not turn into writes after a standby took over, and AWS work already
    sent is idempotent (ClientTokens, owner tags), so the new leader adopts its result.
    The restarted process is a standby with fresh memory."""
    logging.shutdown()  # flush the loss's log line
    sys.stderr.write(
        "causeway: lost the leader Lease; exiting so this replica restarts as a standby\n"
    )
    sys.stderr.flush()
    os._exit(EXIT_LEADERSHIP_LOST)


def awake_clock() -> float:
    """A monotonic clock that also counts time the machine was suspended (CLOCK_BOOTTIME
    on Linux): a leader frozen with its VM must find its renew deadline long past."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is None:
        return time.monotonic()
    return time.clock_gettime(boottime)


def _liveness(url: str | None) -> str | None:
    if url is None:
        return None
    address = parse_listen_url("--liveness", url)
    ensure_free("--liveness", address)
    return address.url


def _metrics_address(address: str | None) -> ListenAddress | None:
    if address is None:
        return None
    parsed = parse_host_port("--metrics-address", address, "/metrics")
    ensure_free("--metrics-address", parsed)
    return parsed


def _aws_identity(clients: ClientFactory, config: OperatorConfig) -> str:
    """Who the operator is in AWS, or why that is unknown. Not fatal: the operator starts
    anyway and each connection says it cannot be verified until AWS answers."""
    region = sorted(config.regions)[0]
    try:
        identity = caller_identity(clients, region)
    except AwsCallError as exc:
        rule = classify(exc)
        logger.warning(
            "Cannot verify the operator's AWS identity (%s: %s); connections will say so "
            "in their Synced condition until AWS accepts the credentials",
            rule.reason,
            exc,
        )
        return f"unknown ({rule.reason})"
    return f"{identity.arn} (account {identity.account})"


def _announce(
    config: OperatorConfig,
    config_path: str | None,
    cluster: ClusterConnection,
    kubernetes_version: str,
    identity: str,
) -> None:
    logger.info(
        "causeway %s starting: config %s; cluster %s (Kubernetes %s, from %s); AWS identity %s",
        __version__,
        config_path or os.environ.get(CONFIG_ENV),
        cluster.server,
        kubernetes_version,
        cluster.source,
        identity,
    )
    for line in config.capabilities_summary():
        logger.info("Region %s", line)
