"""The Prometheus series: names and labels as exported, counters updated by the
controllers, and the gauges read at scrape time from the index and the budget."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from causeway.api import CONNECTION_QUOTA, INBOUND, NAMED_CREDENTIAL, OUTBOUND, Phase
from causeway.aws.session import CallRecord
from causeway.controllers.budget import Budget
from causeway.index import ClusterIndex
from causeway.metrics import Metrics, Outcome, Result
from causeway.reconcile.placement import VpcUsage


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as the Prometheus text parser reads it: (name, labels) → value."""
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def obj(kind_name: str, name: str, phase: str | None = None, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"namespace": "acme", "name": name, "uid": f"{kind_name}-{name}"},
        "spec": {"region": "us-east-1"},
    }
    if phase is not None or status:
        body["status"] = {**({"phase": phase} if phase else {}), **status}
    return body


@pytest.mark.parametrize(
    ("record", "outcome"),
    [
        (CallRecord("ec2", "DescribeVpcEndpoints", "us-east-1"), Outcome.SUCCESS),
        (
            CallRecord("ec2", "CreateVpcEndpoint", "us-east-1", "RequestLimitExceeded"),
            Outcome.THROTTLED,
        ),
        (CallRecord("cloudwatch", "GetMetricData", "us-east-1", "Throttling"), Outcome.THROTTLED),
        (CallRecord("ec2", "CreateVpcEndpoint", "us-east-1", "InvalidServiceName"), Outcome.ERROR),
        (
            CallRecord("ec2", "CreateVpcEndpoint", "us-east-1", "UnauthorizedOperation"),
            Outcome.ERROR,
        ),
        (
            CallRecord(
                "ec2", "DescribeVpcEndpoints", "us-east-1", "EndpointConnectionError", False
            ),
            Outcome.UNREACHABLE,
        ),
    ],
)
def test_every_aws_call_is_counted_by_region_operation_and_outcome(
    record: CallRecord, outcome: Outcome
) -> None:
    metrics = Metrics()
    metrics.aws_call(record)
    metrics.aws_call(record)
    key = (
        "causeway_aws_api_calls_total",
        (("operation", record.operation), ("outcome", outcome), ("region", record.region)),
    )
    assert scrape(metrics)[key] == 2


def test_reconciles_are_counted_by_kind_and_result_and_timed() -> None:
    metrics = Metrics()
    metrics.reconciled(OUTBOUND, Result.SUCCESS, 0.02)
    metrics.reconciled(OUTBOUND, Result.REQUEUE)
    metrics.reconciled(NAMED_CREDENTIAL, Result.ERROR, 0.3)
    samples = scrape(metrics)

    def total(kind: str, result: str) -> float:
        return samples[("causeway_reconcile_total", (("kind", kind), ("result", result)))]

    assert total("OutboundConnection", "success") == 1
    assert total("OutboundConnection", "requeue") == 1
    assert total("NamedCredential", "error") == 1
    assert total("InboundConnection", "success") == 0  # exported before the first event
    count = samples[
        ("causeway_reconcile_duration_seconds_count", (("kind", "OutboundConnection"),))
    ]
    assert count == 1  # a reconcile that did nothing is counted, not timed
    le_005 = (
        "causeway_reconcile_duration_seconds_bucket",
        (("kind", "NamedCredential"), ("le", "0.25")),
    )
    assert samples[le_005] == 0
    le_05 = (
        "causeway_reconcile_duration_seconds_bucket",
        (("kind", "NamedCredential"), ("le", "0.5")),
    )
    assert samples[le_05] == 1


def test_connections_by_kind_and_phase_are_read_from_the_index_at_each_scrape() -> None:
    index = ClusterIndex((OUTBOUND, INBOUND, NAMED_CREDENTIAL, CONNECTION_QUOTA))
    metrics = Metrics()
    metrics.observe_state(index, Budget())
    index[OUTBOUND].observe(None, obj("out", "a", "Ready"))
    index[OUTBOUND].observe(None, obj("out", "b", "Ready"))
    index[OUTBOUND].observe(None, obj("out", "c", "PendingAcceptance"))
    index[OUTBOUND].observe(None, obj("out", "new"))  # no status yet
    index[INBOUND].observe(None, obj("in", "x", "RejectedRemotely"))
    index[NAMED_CREDENTIAL].observe(None, obj("cred", "k", "Invalid"))

    def count(kind: str, phase: str) -> float:
        samples = scrape(metrics)
        return samples[("causeway_connections", (("kind", kind), ("phase", phase)))]

    assert count("OutboundConnection", "Ready") == 2
    assert count("OutboundConnection", "PendingAcceptance") == 1
    assert count("OutboundConnection", "Unknown") == 1
    assert count("InboundConnection", "RejectedRemotely") == 1
    assert count("NamedCredential", "Invalid") == 1
    for phase in Phase:  # every phase is a series from the start, so dashboards show 0
        assert count("InboundConnection", phase.value) in (0, 1)
    index[OUTBOUND].observe("DELETED", obj("out", "a", "Ready"))
    assert count("OutboundConnection", "Ready") == 1


def test_only_the_acting_replica_exports_the_state_gauges() -> None:
    """Two replicas share one view; if both exported it, every sum would double."""
    index = ClusterIndex((OUTBOUND, INBOUND, NAMED_CREDENTIAL, CONNECTION_QUOTA))
    index[OUTBOUND].observe(None, obj("out", "a", "Ready"))
    metrics = Metrics()
    metrics.observe_state(index, Budget())
    metrics.leader(leading=False)
    standby = scrape(metrics)
    assert standby[("causeway_leader", ())] == 0
    assert not [name for name, _ in standby if name == "causeway_connections"]
    metrics.leader(leading=True)
    leader = scrape(metrics)
    assert leader[("causeway_leader", ())] == 1
    ready = ("causeway_connections", labels(kind="OutboundConnection", phase="Ready"))
    assert leader[ready] == 1


def test_quota_gauges_come_from_each_tenants_connection_quota_status() -> None:
    index = ClusterIndex((OUTBOUND, INBOUND, NAMED_CREDENTIAL, CONNECTION_QUOTA))
    metrics = Metrics()
    metrics.observe_state(index, Budget())
    mb = 1_000_000
    quota = {
        "metadata": {"namespace": "acme", "name": "acme", "uid": "q"},
        "spec": {"licenses": 3},
        "status": {
            "used": {
                "outboundConnections": 2,
                "inboundConnections": 1,
                "dailyBytes": 7 * mb,
                "hourlyOutboundBytes": 5 * mb,
                "hourlyInboundBytes": 2 * mb,
            },
            "hard": {"dailyBytes": 5000 * mb, "hourlyOutboundBytes": 56480 * mb},
            "conditions": [
                {"type": "OutboundBlocked", "status": "True", "reason": "HourlyLimitReached"}
            ],
        },
    }
    index[CONNECTION_QUOTA].observe(None, quota)
    index[CONNECTION_QUOTA].observe(
        None, {"metadata": {"namespace": "beta", "name": "q", "uid": "b"}, "spec": {"licenses": 1}}
    )
    samples = scrape(metrics)
    acme = (("tenant", "acme"),)
    assert samples[("causeway_quota_licenses", acme)] == 3
    assert (
        samples[
            ("causeway_quota_licensed_connections", labels(tenant="acme", direction="outbound"))
        ]
        == 2
    )
    assert (
        samples[("causeway_quota_licensed_connections", labels(tenant="acme", direction="inbound"))]
        == 1
    )
    assert samples[("causeway_quota_used_bytes", labels(tenant="acme", window="daily"))] == 7 * mb
    assert (
        samples[("causeway_quota_used_bytes", labels(tenant="acme", window="outbound_hourly"))]
        == 5 * mb
    )
    assert (
        samples[("causeway_quota_limit_bytes", labels(tenant="acme", window="outbound_hourly"))]
        == 56480 * mb
    )
    assert (
        "causeway_quota_limit_bytes",
        labels(tenant="acme", window="inbound_hourly"),
    ) not in samples
    assert samples[("causeway_quota_blocked", acme)] == 1
    assert samples[("causeway_quota_blocked", (("tenant", "beta"),))] == 0
    assert ("causeway_quota_used_bytes", labels(tenant="beta", window="daily")) not in samples


async def test_budget_lanes_export_their_pace_queue_and_throttles() -> None:
    now = [0.0]
    budget = Budget(clock=lambda: now[0])
    metrics = Metrics()
    metrics.observe_state(
        ClusterIndex((OUTBOUND, INBOUND, NAMED_CREDENTIAL, CONNECTION_QUOTA)), budget
    )
    lane = budget.lane("us-east-1", "CreateVpcEndpoint")
    lane.bucket.throttled()
    samples = scrape(metrics)
    labels = (("api", "CreateVpcEndpoint"), ("region", "us-east-1"))
    assert samples[("causeway_aws_throttles_total", labels)] == 1
    assert samples[("causeway_aws_budget_waiting", labels)] == 0
    assert 0 < samples[("causeway_aws_budget_calls_per_second", labels)] < lane.bucket.settings.rate


def test_metering_cycles_are_counted_by_result() -> None:
    metrics = Metrics()
    metrics.metering_cycle(failed=False)
    metrics.metering_cycle(failed=True)
    samples = scrape(metrics)
    assert samples[("causeway_metering_cycles_total", (("result", "success"),))] == 1
    assert samples[("causeway_metering_cycles_total", (("result", "error"),))] == 1


def test_two_operators_in_one_process_keep_their_own_figures() -> None:
    first, second = Metrics(), Metrics()
    first.reconciled(OUTBOUND, Result.SUCCESS)
    key = ("causeway_reconcile_total", (("kind", "OutboundConnection"), ("result", "success")))
    assert scrape(first)[key] == 1
    assert scrape(second)[key] == 0


def test_no_created_series_are_exported() -> None:
    """Counters are read with rate(); a `_created` series per counter only doubles the
    series Prometheus stores."""
    metrics = Metrics()
    metrics.aws_call(CallRecord("ec2", "CreateVpcEndpoint", "us-east-1"))
    metrics.reconciled(OUTBOUND, Result.SUCCESS, 0.01)
    metrics.metering_cycle(failed=False)
    exposition = generate_latest(metrics.registry).decode()
    assert "causeway_aws_api_calls_total{" in exposition
    assert "_created" not in exposition


def test_transit_gauges_follow_each_pass_and_drop_a_vpc_that_is_gone() -> None:
    metrics = Metrics()
    first = [
        VpcUsage("vpc-a", used=40, capacity=50),
        VpcUsage("vpc-b", used=3, capacity=10, draining=True),
        VpcUsage("vpc-c", used=2, capacity=0, configured=False),
    ]
    metrics.transit_capacity("us-east-1", first)
    found = scrape(metrics)
    vpc = lambda v: labels(region="us-east-1", vpc=v)  # noqa: E731
    assert found["causeway_transit_endpoints", vpc("vpc-a")] == 40
    assert found["causeway_transit_endpoint_capacity", vpc("vpc-a")] == 50
    assert found["causeway_transit_vpc_open", vpc("vpc-a")] == 1
    assert found["causeway_transit_vpc_open", vpc("vpc-b")] == 0  # draining
    assert found["causeway_transit_vpc_open", vpc("vpc-c")] == 0  # no longer configured
    metrics.transit_capacity("us-east-1", first[:1])  # vpc-b and vpc-c left the pool
    assert ("causeway_transit_endpoints", vpc("vpc-c")) not in scrape(metrics)
    assert ("causeway_transit_endpoints", vpc("vpc-a")) in scrape(metrics)


def test_every_replica_exports_whether_its_index_is_synced_and_how_fresh() -> None:
    metrics = Metrics()
    index = ClusterIndex([OUTBOUND, CONNECTION_QUOTA])
    now = [100.0]
    metrics.observe_state(index, Budget({}), lambda: now[0])
    metrics.leader(leading=False)  # a standby exports it too
    samples = scrape(metrics)
    assert samples[("causeway_index_synced", labels(kind="OutboundConnection"))] == 0
    assert ("causeway_index_age_seconds", labels(kind="OutboundConnection")) not in samples
    index[OUTBOUND].mark_synced(90.0)
    index[CONNECTION_QUOTA].mark_synced(95.0)
    samples = scrape(metrics)
    assert samples[("causeway_index_synced", labels(kind="OutboundConnection"))] == 1
    assert samples[("causeway_index_age_seconds", labels(kind="OutboundConnection"))] == 10.0
    assert samples[("causeway_index_age_seconds", labels(kind="ConnectionQuota"))] == 5.0
