"""`causeway run`, from the command line to a running operator: check the config, the
probe address, the cluster and the AWS identity, say in a few lines what is starting,
then run until a signal. Every problem found here is one line for the user (the
CLI turns the exception into an exit code); nothing is half-started."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass

from causeway import __version__
from causeway.api import ALL_KINDS
from causeway.aws.identity import caller_identity
from causeway.aws.session import ClientFactory
from causeway.config import CONFIG_ENV, OperatorConfig, load_config
from causeway.errors import AwsCallError, classify
from causeway.kube import ClusterConnection, KubeApi, check_cluster, load_cluster
from causeway.listen import ListenAddress, ensure_free, parse_host_port, parse_listen_url
from causeway.operator import run_operator
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.startup")


@dataclass(frozen=True)
class RunOptions:
    """What `causeway run` was asked to do."""

    config_path: str | None
    liveness_url: str | None
    startup_timeout: float
    metrics_address: str | None = None  # HOST:PORT


def run(options: RunOptions) -> int:
    """Check everything, then run the operator until SIGINT/SIGTERM; returns 0."""
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
    asyncio.run(run_operator(runtime, liveness_endpoint=liveness, handle_signals=True))
    return 0


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
