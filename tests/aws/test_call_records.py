"""ClientFactory reports every call its clients make (what the metrics count and the
IAM test compares with the policy): the operation, the region, and how it ended."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from causeway.aws.session import CallRecord, ClientFactory
from causeway.sandbox.aws import AwsSandbox

REGION = "us-east-1"


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


def test_answered_calls_are_reported_with_their_error_code(sandbox: AwsSandbox) -> None:
    factory = ClientFactory(session, endpoint_url=sandbox.endpoint_url)
    seen: list[CallRecord] = []
    ec2 = factory.client("ec2", REGION)  # made before anyone listens: still reported
    factory.listen(seen.append)
    ec2.describe_vpc_endpoints()
    with pytest.raises(ClientError):
        ec2.describe_vpc_endpoints(VpcEndpointIds=["vpce-0123456789abcdef0"])
    factory.client("cloudwatch", REGION).get_metric_data(
        MetricDataQueries=[], StartTime="2026-11-28T00:00:00Z", EndTime="2026-11-28T01:00:00Z"
    )
    assert [(r.service, r.operation, r.region, r.answered) for r in seen] == [
        ("ec2", "DescribeVpcEndpoints", REGION, True),
        ("ec2", "DescribeVpcEndpoints", REGION, True),
        ("cloudwatch", "GetMetricData", REGION, True),
    ]
    assert seen[0].error is None and seen[2].error is None
    assert seen[1].error is not None and seen[1].error.startswith("Invalid")


def test_a_call_that_got_no_answer_is_reported_as_unanswered() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    factory = ClientFactory(session, endpoint_url=f"http://127.0.0.1:{port}")
    seen: list[CallRecord] = []
    factory.listen(seen.append)
    with pytest.raises(EndpointConnectionError):
        factory.client("ec2", REGION).describe_vpc_endpoints()
    assert seen == [
        CallRecord("ec2", "DescribeVpcEndpoints", REGION, "EndpointConnectionError", False)
    ]
