"""`causeway run --metrics-address` serves Prometheus metrics: scraped over HTTP while
the operator reconciles, parsed with Prometheus's own text parser, holding the series
the metrics reference (docs/reference/metrics.md) and the Grafana dashboard promise — and neither the dashboard nor the
alert rules ask for a series the operator does not export."""

from __future__ import annotations

import signal
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack
from e2e.helpers import eventually, outbound, wait_phase
from promql_queries import (
    TARGET_LABELS,
    as_stored,
    label_values,
    labels_read,
    shipped_queries,
    shipped_series,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def stack(kube_backend: KubeBackendFactory) -> Iterator[SandboxStack]:
    with SandboxStack(
        poll_interval="1s", namespaces=["acme"], kube_backend=kube_backend
    ) as running:
        running.grant_quota("acme", licenses=10)
        yield running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return str(response.read().decode())


def scrape(url: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scrape_text(url))
        for sample in family.samples
    }


def declared_series(url: str) -> set[str]:
    """Every name a query may use: families (also those without samples yet) and the
    sample names of counters and histograms (`_total`, `_bucket`, `_count`, `_sum`)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(scrape_text(url)):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum"))
    return names


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_served_and_the_dashboard_reads_only_exported_series(
    stack: SandboxStack, tmp_path: Path
) -> None:
    port = free_port()
    operator = stack.start_operator_process(
        tmp_path, extra_args=["--metrics-address", f"127.0.0.1:{port}"]
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        service = stack.aws.create_tenant_service()
        stack.kube.apply(outbound("scraped", service.service_name))
        vpce = wait_phase(stack, "acme", "scraped", "PendingAcceptance", timeout=30)
        stack.aws.accept(service.service_id, vpce["vpcEndpointId"])
        wait_phase(stack, "acme", "scraped", "Ready", timeout=10)

        def settled() -> Samples | None:
            # The quota's status follows the connection's in a later write: wait for both.
            samples = scrape(url)
            ready = value(samples, "causeway_connections", kind="OutboundConnection", phase="Ready")
            held = value(
                samples,
                "causeway_quota_licensed_connections",
                tenant="acme",
                direction="outbound",
            )
            return samples if (ready, held) == (1, 1) else None

        samples = eventually(settled, timeout=10, what="the Ready, licensed connection")
        declared = declared_series(url)
    finally:
        operator.send_signal(signal.SIGTERM)
        code = operator.wait(30)
    assert code == 0, (tmp_path / "operator.log").read_text()

    calls = "causeway_aws_api_calls_total"
    region = stack.region
    create = {"region": region, "operation": "CreateVpcEndpoint", "outcome": "success"}
    assert value(samples, calls, **create) == 1
    describe = {"region": region, "operation": "DescribeVpcEndpoints", "outcome": "success"}
    assert value(samples, calls, **describe) >= 2
    assert not [name for name, _ in samples if name.endswith("_created")]
    ok = value(samples, "causeway_reconcile_total", kind="OutboundConnection", result="success")
    assert ok >= 2  # created (PendingAcceptance), then Ready
    timed = value(samples, "causeway_reconcile_duration_seconds_count", kind="OutboundConnection")
    assert timed >= 2
    assert value(samples, "causeway_connections", kind="InboundConnection", phase="Ready") == 0
    assert value(samples, "causeway_quota_licenses", tenant="acme") == 10
    assert value(samples, "causeway_quota_blocked", tenant="acme") == 0
    inbound = {"tenant": "acme", "direction": "inbound"}
    assert samples[("causeway_quota_licensed_connections", tuple(sorted(inbound.items())))] == 0
    lane = {"region": stack.region, "api": "CreateVpcEndpoint"}
    assert value(samples, "causeway_aws_budget_calls_per_second", **lane) > 0
    assert ("causeway_aws_throttles_total", tuple(sorted(lane.items()))) in samples
    assert any(name == "causeway_metering_cycles_total" for name, _ in samples)

    for where, series in shipped_series().items():
        missing = sorted(series - declared)
        assert not missing, f"{where} read series the operator does not export: {missing}"

    check_queries_against_stored_series(samples)


def check_queries_against_stored_series(scraped: Samples) -> None:
    """The queries read the series as Prometheus stores them after the ServiceMonitor's
    relabelling, not as scraped: every label a query selects or groups by is on the
    stored series of its metric, and none is a target label that took the place of one
    of ours (ours then lives on as exported_<label>: a query would name the operator's
    namespace where it meant the tenant)."""
    stored = as_stored(scraped)
    exported = {name: {k for k, _ in labels} for name, labels in scraped}
    present: dict[str, set[str]] = {}
    for name, labels in stored:
        present.setdefault(name, set()).update(k for k, _ in labels)
    problems = []
    for where, query in shipped_queries():
        for metric, used in labels_read(query).items():
            if metric not in present:
                continue  # no sample yet (e.g. a histogram's buckets): names are checked above
            for label in sorted(used):
                if label not in present[metric]:
                    problems.append(f"{where}: {metric} has no label {label!r} once stored")
                elif label in TARGET_LABELS and label in exported.get(metric, set()):
                    problems.append(f"{where}: {label!r} of {metric} is the target's, not ours")
    assert problems == []
    # The dashboard's tenant variable lists tenants, not the operator's namespace.
    assert label_values(stored, "causeway_quota_licenses", "tenant") == {"acme"}
