"""GetMetricData against the sandbox's CloudWatch: one metric per endpoint with the
documented dimension sets, hourly sums from the day's start, 500 per call, pages
followed, and a query CloudWatch cannot answer failing the call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from causeway.aws.metrics import BATCH, EndpointMetrics, batches, metric_of
from causeway.aws.session import ClientFactory
from causeway.domain import Direction, MeteredEndpoint
from causeway.errors import AwsCallError
from causeway.sandbox.aws import AwsSandbox

REGION = "us-east-1"
DAY = datetime(2026, 11, 28, tzinfo=UTC)
HOUR = DAY.replace(hour=14)
SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
VPC = "vpc-0a1b2c3d4e5f60718"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


@pytest.fixture
def metrics(sandbox: AwsSandbox) -> EndpointMetrics:
    sandbox.reset_call_counts()

    def session() -> boto3.Session:
        return boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )

    factory = ClientFactory(session, endpoint_url=sandbox.endpoint_url)
    return EndpointMetrics(factory.client("cloudwatch", REGION))


def outbound(n: int) -> MeteredEndpoint:
    return MeteredEndpoint(f"vpce-{n:017x}", REGION, "acme", Direction.OUTBOUND, SERVICE, VPC)


def inbound(n: int, service_id: str = "vpce-svc-0f0e0d0c0b0a09080") -> MeteredEndpoint:
    return MeteredEndpoint(f"vpce-{n:017x}", REGION, "acme", Direction.INBOUND, service_id)


def test_the_dimension_sets_are_the_documented_ones() -> None:
    assert metric_of(outbound(1)) == {
        "Namespace": "AWS/PrivateLinkEndpoints",
        "MetricName": "BytesProcessed",
        "Dimensions": [
            {"Name": "Endpoint Type", "Value": "Interface"},
            {"Name": "Service Name", "Value": SERVICE},
            {"Name": "VPC Endpoint Id", "Value": "vpce-00000000000000001"},
            {"Name": "VPC Id", "Value": VPC},
        ],
    }
    assert metric_of(inbound(2))["Namespace"] == "AWS/PrivateLinkServices"
    assert metric_of(inbound(2))["Dimensions"] == [
        {"Name": "Service Id", "Value": "vpce-svc-0f0e0d0c0b0a09080"},
        {"Name": "VPC Endpoint Id", "Value": "vpce-00000000000000002"},
    ]


def test_hourly_sums_from_the_start_of_the_day(
    sandbox: AwsSandbox, metrics: EndpointMetrics
) -> None:
    out, into = outbound(10), inbound(11)
    sandbox.put_endpoint_bytes(out.id, SERVICE, VPC, 100, HOUR + timedelta(minutes=3))
    sandbox.put_endpoint_bytes(out.id, SERVICE, VPC, 50, HOUR + timedelta(minutes=40))
    sandbox.put_endpoint_bytes(out.id, SERVICE, VPC, 7, DAY.replace(hour=9, minute=59))
    sandbox.put_endpoint_bytes(out.id, SERVICE, VPC, 999, DAY - timedelta(minutes=1))
    sandbox.put_service_bytes(into.service, into.id, 30, HOUR + timedelta(minutes=1))
    found, token = metrics.page([out, into, outbound(12)], DAY, HOUR + timedelta(hours=1))
    assert token is None
    assert found == {
        out.id: {DAY.replace(hour=9): 7.0, HOUR: 150.0},
        into.id: {HOUR: 30.0},
        outbound(12).id: {},
    }
    assert sandbox.metrics_requested() == 3
    assert sandbox.call_counts()["GetMetricData"] == 1


def test_at_most_500_per_call(sandbox: AwsSandbox, metrics: EndpointMetrics) -> None:
    endpoints = [outbound(1000 + n) for n in range(2 * BATCH + 1)]
    assert [len(b) for b in batches(endpoints)] == [500, 500, 1]
    with pytest.raises(ValueError, match="at most 500"):
        metrics.page(endpoints[: BATCH + 1], DAY, HOUR)


def test_pages_are_followed_and_merge(sandbox: AwsSandbox, metrics: EndpointMetrics) -> None:
    endpoints = [outbound(2000 + n) for n in range(3)]
    for n, endpoint in enumerate(endpoints):
        for hour in range(5):
            sandbox.put_endpoint_bytes(endpoint.id, SERVICE, VPC, n + 1, DAY.replace(hour=hour))
    real = metrics._cloudwatch.get_metric_data  # type: ignore[attr-defined]
    calls: list[dict[str, Any]] = []

    def small_pages(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(MaxDatapoints=4, **kwargs)

    metrics._cloudwatch.get_metric_data = small_pages  # type: ignore[attr-defined]
    try:
        merged: dict[str, dict[datetime, float]] = {}
        token = None
        while True:
            found, token = metrics.page(endpoints, DAY, HOUR, token)
            for endpoint_id, hours in found.items():
                merged.setdefault(endpoint_id, {}).update(hours)
            if token is None:
                break
    finally:
        metrics._cloudwatch.get_metric_data = real  # type: ignore[attr-defined]
    assert len(calls) > 1 and all(
        c["MetricDataQueries"] == calls[0]["MetricDataQueries"] for c in calls
    )
    for n, endpoint in enumerate(endpoints):
        assert merged[endpoint.id] == {DAY.replace(hour=h): float(n + 1) for h in range(5)}


def test_failures_are_aws_call_errors(sandbox: AwsSandbox, metrics: EndpointMetrics) -> None:
    sandbox.fail_next("GetMetricData", "Throttling", "Rate exceeded")
    with pytest.raises(AwsCallError) as caught:
        metrics.page([outbound(1)], DAY, HOUR)
    assert (caught.value.operation, caught.value.code) == ("GetMetricData", "Throttling")


def test_a_query_cloudwatch_could_not_answer_fails_the_call() -> None:
    class Refusing:
        def get_metric_data(self, **_: Any) -> dict[str, Any]:
            return {
                "MetricDataResults": [
                    {"Id": "e0", "StatusCode": "Forbidden", "Messages": [{"Value": "no"}]}
                ]
            }

    with pytest.raises(AwsCallError) as caught:
        EndpointMetrics(Refusing()).page([outbound(1)], DAY, HOUR)
    assert caught.value.code == "AccessDenied"
