"""The sandbox's CloudWatch behaves as the CloudWatch API reference describes
GetMetricData (exact metric match, period buckets, limits, paging), counts and fails
on demand, and the endpoint readers see what DescribeVpcEndpoints shows; checked with
real boto3 calls over HTTP."""

from __future__ import annotations

import itertools
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from causeway.sandbox.aws import AwsSandbox
from causeway.sandbox.aws import control as sandbox_control

REGION = "eu-west-1"
DAY = datetime(2025, 3, 1, tzinfo=UTC)
ENDPOINTS = "AWS/PrivateLinkEndpoints"
SERVICES = "AWS/PrivateLinkServices"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


@pytest.fixture(scope="module")
def cw(sandbox: AwsSandbox) -> Any:
    # One attempt only: injected errors must reach the test, not be retried away.
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    return sandbox.client("cloudwatch", config=config)


@pytest.fixture(scope="module")
def platform(sandbox: AwsSandbox) -> dict[str, Any]:
    return sandbox.create_platform(REGION)


def _vpce() -> str:
    """A fresh endpoint id per use: the module shares one sandbox and its metrics."""
    return f"vpce-{next(_ids):017x}"


def _endpoint_dims(vpce_id: str, service_name: str = "svc", vpc_id: str = "vpc-1") -> list[Any]:
    return [
        {"Name": "Endpoint Type", "Value": "Interface"},
        {"Name": "Service Name", "Value": service_name},
        {"Name": "VPC Endpoint Id", "Value": vpce_id},
        {"Name": "VPC Id", "Value": vpc_id},
    ]


def _service_dims(service_id: str, vpce_id: str) -> list[Any]:
    return [
        {"Name": "Service Id", "Value": service_id},
        {"Name": "VPC Endpoint Id", "Value": vpce_id},
    ]


def _query(
    query_id: str, namespace: str, dims: list[Any], stat: str = "Sum", period: int = 3600
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": "BytesProcessed", "Dimensions": dims},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _series(cw: Any, queries: list[dict[str, Any]], **kwargs: Any) -> dict[str, list[Any]]:
    """Every page of one GetMetricData request: (timestamp, value) by query id."""
    kwargs = {"StartTime": DAY, "EndTime": DAY + timedelta(hours=5), **kwargs}
    found: dict[str, list[Any]] = {}
    token = None
    while True:
        page = cw.get_metric_data(
            MetricDataQueries=queries, **kwargs, **({"NextToken": token} if token else {})
        )
        for result in page["MetricDataResults"]:
            pairs = zip(result["Timestamps"], result["Values"], strict=True)
            found.setdefault(result["Id"], []).extend(pairs)
        token = page.get("NextToken")
        if not token:
            return found


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


# -------------------------------------------------------------------- GetMetricData


def test_hourly_sums_for_both_dimension_sets(sandbox: AwsSandbox, cw: Any) -> None:
    vpce = _vpce()
    for hour, minute, count in [(0, 5, 100), (0, 55, 20), (1, 10, 7), (3, 30, 1000)]:
        sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", count, _at(hour, minute))
        sandbox.put_service_bytes("vpce-svc-1", vpce, count * 2, _at(hour, minute))
    sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", 5, DAY - timedelta(seconds=1))  # before
    sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", 5, _at(4))  # at EndTime: excluded
    queries = [
        _query("out", ENDPOINTS, _endpoint_dims(vpce)),
        _query("inb", SERVICES, _service_dims("vpce-svc-1", vpce)),
    ]
    reply = cw.get_metric_data(MetricDataQueries=queries, StartTime=DAY, EndTime=_at(4))
    assert "NextToken" not in reply
    results = {r["Id"]: r for r in reply["MetricDataResults"]}
    # Newest first by default; an hour without data has no datapoint at all.
    assert results["out"]["Timestamps"] == [_at(3), _at(1), _at(0)]
    assert results["out"]["Values"] == [1000.0, 7.0, 120.0]
    assert results["inb"]["Values"] == [2000.0, 14.0, 240.0]
    assert {r["StatusCode"] for r in results.values()} == {"Complete"}
    ascending = cw.get_metric_data(
        MetricDataQueries=queries[:1], StartTime=DAY, EndTime=_at(4), ScanBy="TimestampAscending"
    )["MetricDataResults"][0]
    assert ascending["Timestamps"] == [_at(0), _at(1), _at(3)]
    assert ascending["Values"] == [120.0, 7.0, 1000.0]


def test_buckets_start_at_start_time(sandbox: AwsSandbox, cw: Any) -> None:
    vpce = _vpce()
    # Recent data: CloudWatch rounds StartTime down to the minute (to the hour past 63 days).
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", 1, hour + timedelta(minutes=20))
    sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", 2, hour + timedelta(minutes=70))
    sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", 4, hour + timedelta(minutes=80))
    result = cw.get_metric_data(
        MetricDataQueries=[_query("m", ENDPOINTS, _endpoint_dims(vpce))],
        StartTime=hour + timedelta(minutes=15, seconds=30),
        EndTime=hour + timedelta(hours=2),
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]
    # 00:15-01:15 holds the first two, 01:15-02:15 the third.
    assert result["Timestamps"] == [hour + timedelta(minutes=15), hour + timedelta(minutes=75)]
    assert result["Values"] == [3.0, 4.0]


def test_only_the_exact_metric_counts(sandbox: AwsSandbox, cw: Any) -> None:
    vpce = _vpce()
    dims = _endpoint_dims(vpce)
    sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", 1, _at(0, 1))
    extra = [*dims, {"Name": "AZ", "Value": "eu-west-1a"}]
    for namespace, name, dimensions in [
        (ENDPOINTS, "BytesProcessed", extra),  # an extra dimension
        (ENDPOINTS, "BytesProcessed", dims[1:]),  # a missing one
        (ENDPOINTS, "BytesProcessed", _endpoint_dims(vpce, vpc_id="vpc-2")),  # another value
        (SERVICES, "BytesProcessed", dims),  # another namespace
        (ENDPOINTS, "NewConnections", dims),  # another metric
    ]:
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Value": 1000,
                    "Timestamp": _at(0, 2),
                }
            ],
        )
    found = _series(cw, [_query("m", ENDPOINTS, list(reversed(dims)))])  # order is no matter
    assert found == {"m": [(_at(0), 1.0)]}


def test_statistics_over_every_datum_form(cw: Any) -> None:
    dims = _endpoint_dims(_vpce())
    metric = {"MetricName": "BytesProcessed", "Dimensions": dims, "Timestamp": _at(2, 1)}
    cw.put_metric_data(
        Namespace=ENDPOINTS,
        MetricData=[
            {**metric, "Value": 10},
            {**metric, "Values": [1, 4], "Counts": [2, 1]},
            {
                **metric,
                "StatisticValues": {"SampleCount": 2, "Sum": 30, "Minimum": 5, "Maximum": 25},
            },
        ],
    )
    expected = {"Sum": 46.0, "SampleCount": 6.0, "Average": 46 / 6, "Minimum": 1.0, "Maximum": 25.0}
    queries = [_query(stat.lower(), ENDPOINTS, dims, stat=stat) for stat in expected]
    found = _series(cw, queries)
    assert {stat: found[stat.lower()] for stat in expected} == {
        stat: [(_at(2), pytest.approx(value))] for stat, value in expected.items()
    }


def test_unit_selects_data_put_with_it(cw: Any) -> None:
    dims = _endpoint_dims(_vpce())
    metric = {"MetricName": "BytesProcessed", "Dimensions": dims, "Timestamp": _at(0, 1)}
    cw.put_metric_data(
        Namespace=ENDPOINTS,
        MetricData=[
            {**metric, "Value": 1, "Unit": "Bytes"},
            {**metric, "Value": 2, "Unit": "Count"},
        ],
    )
    query = _query("m", ENDPOINTS, dims)
    query["MetricStat"]["Unit"] = "Bytes"
    assert _series(cw, [query]) == {"m": [(_at(0), 1.0)]}


def test_more_than_500_queries_are_refused(cw: Any) -> None:
    dims = _endpoint_dims(_vpce())
    queries = [_query(f"m{n}", ENDPOINTS, dims) for n in range(501)]
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=queries, StartTime=DAY, EndTime=_at(1))
    assert _error(exc) == ("ValidationError", 400)
    assert "must not have a size greater than 500" in exc.value.response["Error"]["Message"]
    reply = cw.get_metric_data(MetricDataQueries=queries[:500], StartTime=DAY, EndTime=_at(1))
    assert len(reply["MetricDataResults"]) == 500


@pytest.mark.parametrize("period", [45, 61, 90])  # botocore itself refuses periods below 1
def test_period_must_be_whole_minutes(cw: Any, period: int) -> None:
    query = _query("m", ENDPOINTS, _endpoint_dims(_vpce()), period=period)
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=[query], StartTime=DAY, EndTime=_at(1))
    assert _error(exc) == ("ValidationError", 400)


@pytest.mark.parametrize(
    "change",
    [
        {"EndTime": DAY},  # not after StartTime
        {"EndTime": DAY - timedelta(hours=1)},
        {"MaxDatapoints": 0},
        {"ScanBy": "Sideways"},
    ],
)
def test_invalid_requests_are_refused(cw: Any, change: dict[str, Any]) -> None:
    query = _query("m", ENDPOINTS, _endpoint_dims(_vpce()))
    kwargs: dict[str, Any] = {"StartTime": DAY, "EndTime": _at(1), **change}
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=[query], **kwargs)
    assert _error(exc) == ("ValidationError", 400)


@pytest.mark.parametrize(
    "queries",
    [
        [{"Id": "m1", "Expression": "SUM(METRICS())"}],  # metric math: not modelled
        [{"Id": "m1"}],  # neither MetricStat nor Expression
        [_query("M1", ENDPOINTS, [])],  # ids start with a lowercase letter
        [_query("m1", ENDPOINTS, []), _query("m1", SERVICES, [])],  # ids are unique
        [_query("m1", ENDPOINTS, [], stat="p99")],
    ],
)
def test_unsupported_queries_are_refused(cw: Any, queries: list[dict[str, Any]]) -> None:
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=queries, StartTime=DAY, EndTime=_at(1))
    assert _error(exc) == ("ValidationError", 400)


def test_paging_gives_the_same_data_as_one_page(sandbox: AwsSandbox, cw: Any) -> None:
    queries = []
    for n in range(12):
        vpce = _vpce()
        for hour in range(n % 5):  # 0 to 4 hourly datapoints per metric
            sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", n * 10 + hour, _at(hour, 30))
        queries.append(_query(f"q{n}", ENDPOINTS, _endpoint_dims(vpce)))
    whole = _series(cw, queries)
    assert sum(len(points) for points in whole.values()) == 21

    pages, partial, token = 0, 0, None
    paged: dict[str, list[Any]] = {}
    while True:
        page = cw.get_metric_data(
            MetricDataQueries=queries,
            StartTime=DAY,
            EndTime=_at(5),
            MaxDatapoints=3,
            **({"NextToken": token} if token else {}),
        )
        pages += 1
        results = page["MetricDataResults"]
        assert sum(len(r["Values"]) for r in results) <= 3
        for result in results:
            paged.setdefault(result["Id"], []).extend(
                zip(result["Timestamps"], result["Values"], strict=True)
            )
            partial += result["StatusCode"] == "PartialData"
        token = page.get("NextToken")
        if not token:
            break
    assert paged == whole
    assert pages == 7  # 21 datapoints, 3 a page
    assert partial > 0  # some query's datapoints were split across pages
    assert results[-1]["StatusCode"] == "Complete"


def test_bad_next_token_is_refused(sandbox: AwsSandbox, cw: Any) -> None:
    vpce = _vpce()
    for hour in range(3):
        sandbox.put_endpoint_bytes(vpce, "svc", "vpc-1", 1, _at(hour))
    query = _query("m", ENDPOINTS, _endpoint_dims(vpce))
    kwargs = {"StartTime": DAY, "EndTime": _at(5), "MaxDatapoints": 1}
    token = cw.get_metric_data(MetricDataQueries=[query], **kwargs)["NextToken"]
    for bad in ("garbage", token[:-4], "e30="):
        with pytest.raises(ClientError) as exc:
            cw.get_metric_data(MetricDataQueries=[query], NextToken=bad, **kwargs)
        assert _error(exc) == ("InvalidNextToken", 400)
    other = _query("other", ENDPOINTS, _endpoint_dims(vpce))  # a token is for its request
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=[other], NextToken=token, **kwargs)
    assert _error(exc) == ("InvalidNextToken", 400)
    following = cw.get_metric_data(MetricDataQueries=[query], NextToken=token, **kwargs)
    assert following["MetricDataResults"][0]["Timestamps"] == [_at(1)]


# -------------------------------------------------------------- counts and failures


def test_metrics_requested_counts_queries(sandbox: AwsSandbox, cw: Any) -> None:
    dims = _endpoint_dims(_vpce())
    sandbox.reset_call_counts()
    assert sandbox.metrics_requested() == 0
    for size in (3, 2):
        queries = [_query(f"m{n}", ENDPOINTS, dims) for n in range(size)]
        cw.get_metric_data(MetricDataQueries=queries, StartTime=DAY, EndTime=_at(1))
    sandbox.put_endpoint_bytes("vpce-x", "svc", "vpc-1", 1, _at(0))
    assert sandbox.metrics_requested() == 5
    assert sandbox.call_counts() == {"GetMetricData": 2, "PutMetricData": 1}
    sandbox.reset_call_counts()
    assert sandbox.metrics_requested() == 0
    assert sandbox.call_counts() == {}


def test_fail_next_answers_in_cloudwatch_protocol(sandbox: AwsSandbox, cw: Any) -> None:
    query = _query("m", ENDPOINTS, _endpoint_dims(_vpce()))
    sandbox.fail_next("GetMetricData", "InternalServiceFault", "try later", status=500)
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=[query], StartTime=DAY, EndTime=_at(1))
    # CloudWatch is query-compatible: clients see a modelled error by its query code.
    assert _error(exc) == ("InternalServiceError", 500)
    error: dict[str, Any] = dict(exc.value.response["Error"])
    assert error["QueryErrorCode"] == "InternalServiceFault"
    assert exc.value.response["Error"]["Message"] == "try later"
    # Only the next call fails.
    cw.get_metric_data(MetricDataQueries=[query], StartTime=DAY, EndTime=_at(1))
    sandbox.fail_next("GetMetricData", "LimitExceeded")  # unmodelled codes pass as given
    sandbox.fail_next("GetMetricData", "SomethingNew")
    for code in ("LimitExceeded", "SomethingNew"):
        with pytest.raises(ClientError) as exc:
            cw.get_metric_data(MetricDataQueries=[query], StartTime=DAY, EndTime=_at(1))
        assert _error(exc) == (code, 400)


def test_fail_next_after_effect_stores_the_data(sandbox: AwsSandbox, cw: Any) -> None:
    vpce = _vpce()
    sandbox.fail_next("PutMetricData", "InternalServiceError", after_effect=True, status=500)
    datum = {"MetricName": "BytesProcessed", "Dimensions": _endpoint_dims(vpce), "Value": 9}
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace=ENDPOINTS, MetricData=[{**datum, "Timestamp": _at(0)}])
    assert _error(exc) == ("InternalServiceError", 500)
    assert _series(cw, [_query("m", ENDPOINTS, _endpoint_dims(vpce))]) == {"m": [(_at(0), 9.0)]}


def test_break_api_until_healed(sandbox: AwsSandbox, cw: Any) -> None:
    query = _query("m", ENDPOINTS, _endpoint_dims(_vpce()))
    sandbox.break_api("GetMetricData", status=502)
    for _ in range(2):
        with pytest.raises(ClientError) as exc:
            cw.get_metric_data(MetricDataQueries=[query], StartTime=DAY, EndTime=_at(1))
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    sandbox.heal_api("GetMetricData")
    cw.get_metric_data(MetricDataQueries=[query], StartTime=DAY, EndTime=_at(1))


def test_limit_throttles_as_cloudwatch_does(sandbox: AwsSandbox, cw: Any) -> None:
    query = _query("m", ENDPOINTS, _endpoint_dims(_vpce()))
    before = sandbox.throttled_counts().get("GetMetricData", 0)
    sandbox.limit("GetMetricData", burst=2, rate=0.001)
    try:
        for _ in range(2):
            cw.get_metric_data(MetricDataQueries=[query], StartTime=DAY, EndTime=_at(1))
        with pytest.raises(ClientError) as exc:
            cw.get_metric_data(MetricDataQueries=[query], StartTime=DAY, EndTime=_at(1))
        assert _error(exc) == ("Throttling", 400)
        assert sandbox.throttled_counts()["GetMetricData"] == before + 1
    finally:
        with sandbox_control._CONTROL.lock:
            sandbox_control._CONTROL.limits.pop("GetMetricData", None)


def test_injected_error_in_query_protocol(sandbox: AwsSandbox) -> None:
    """Clients on CloudWatch's query protocol get the XML error document."""
    sandbox.fail_next("ListMetrics", "InternalServiceFault", status=500)
    request = urllib.request.Request(
        f"{sandbox.endpoint_url}/",
        data=b"Action=ListMetrics&Version=2010-08-01",
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250301/"
            f"{REGION}/monitoring/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=10)
    assert exc.value.code == 500
    body = exc.value.read().decode()
    assert "<Code>InternalServiceError</Code>" in body
    assert "<Type>Receiver</Type>" in body


def test_controls_accept_cloudwatch_and_ec2_names_only(sandbox: AwsSandbox) -> None:
    for control in (sandbox.break_api, sandbox.heal_api):
        with pytest.raises(ValueError, match="not an EC2 action name nor a CloudWatch one"):
            control("get_metric_data")
    with pytest.raises(ValueError, match="not an EC2 action"):
        sandbox.fail_next("GetMetricStats", "Boom")
    sandbox.heal_api("PutMetricData")
    sandbox.heal_api("DescribeVpcEndpoints")


# ------------------------------------------------------------ endpoints as seen


def _interface_endpoint(sandbox: AwsSandbox, platform: dict[str, Any]) -> str:
    service = sandbox.create_tenant_service(REGION, acceptance_required=False)
    reply = sandbox.client("ec2").create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=platform["transitVpcId"],
        ServiceName=service.service_name,
        SubnetIds=platform["subnetIds"],
        SecurityGroupIds=platform["securityGroupIds"],
    )
    return str(reply["VpcEndpoint"]["VpcEndpointId"])


def test_modify_endpoint_swaps_security_groups(
    sandbox: AwsSandbox, platform: dict[str, Any]
) -> None:
    ec2 = sandbox.client("ec2")
    vpce = _interface_endpoint(sandbox, platform)
    allowed, blocked = platform["securityGroupIds"][0], platform["blockedSecurityGroupId"]
    assert sandbox.endpoint_security_groups(vpce) == [allowed]
    ec2.modify_vpc_endpoint(
        VpcEndpointId=vpce, AddSecurityGroupIds=[blocked], RemoveSecurityGroupIds=[allowed]
    )
    assert sandbox.endpoint_security_groups(vpce) == [blocked]
    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddSecurityGroupIds=[allowed])
    assert sorted(sandbox.endpoint_security_groups(vpce)) == sorted([allowed, blocked])


def test_modify_endpoint_checks_groups_first(sandbox: AwsSandbox, platform: dict[str, Any]) -> None:
    ec2 = sandbox.client("ec2", config=Config(retries={"total_max_attempts": 1}))
    vpce = _interface_endpoint(sandbox, platform)
    allowed = platform["securityGroupIds"][0]
    elsewhere = ec2.create_security_group(
        GroupName="elsewhere",
        Description="in another VPC",
        VpcId=ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"],
    )["GroupId"]
    for added, code in [
        (["sg-0123456789abcdef0"], "InvalidGroup.NotFound"),
        ([elsewhere], "InvalidParameter"),
        ([], "InvalidParameter"),  # removing the last group
    ]:
        with pytest.raises(ClientError) as exc:
            ec2.modify_vpc_endpoint(
                VpcEndpointId=vpce, AddSecurityGroupIds=added, RemoveSecurityGroupIds=[allowed]
            )
        assert _error(exc) == (code, 400)
        assert sandbox.endpoint_security_groups(vpce) == [allowed]  # nothing changed


def test_interface_endpoint_without_groups_gets_the_vpc_default(
    sandbox: AwsSandbox, platform: dict[str, Any]
) -> None:
    vpce = sandbox.create_tenant_endpoint("111122223333", region=REGION)
    tenant = sandbox.tenant_client("111122223333", REGION)
    vpc_id = tenant.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]["VpcId"]
    default = tenant.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]
    assert sandbox.endpoint_security_groups(vpce) == [default]


def test_endpoint_tags_follow_create_and_delete_tags(
    sandbox: AwsSandbox, platform: dict[str, Any]
) -> None:
    ec2 = sandbox.client("ec2")
    vpce = _interface_endpoint(sandbox, platform)
    assert sandbox.endpoint_tags(vpce) == {}
    ec2.create_tags(
        Resources=[vpce],
        Tags=[{"Key": "causeway/owner", "Value": "team-a"}, {"Key": "cost", "Value": "1"}],
    )
    assert sandbox.endpoint_tags(vpce) == {"causeway/owner": "team-a", "cost": "1"}
    ec2.create_tags(Resources=[vpce], Tags=[{"Key": "cost", "Value": "2"}])
    ec2.delete_tags(Resources=[vpce], Tags=[{"Key": "causeway/owner"}])
    assert sandbox.endpoint_tags(vpce) == {"cost": "2"}


# ----------------------------------------------------------------------------- scale


def test_ten_thousand_endpoints(sandbox: AwsSandbox, cw: Any) -> None:
    """A metering pass at scale: 10,000 endpoints with two hours of data each, read with
    20 calls of 500 queries. No timing assertion; it takes seconds, not minutes."""
    endpoints = [f"vpce-scale{n:012d}" for n in range(10_000)]
    data = [
        {
            "MetricName": "BytesProcessed",
            "Dimensions": _endpoint_dims(vpce, "svc-scale", "vpc-scale"),
            "Timestamp": _at(hour, 10),
            "Value": n + hour,
        }
        for n, vpce in enumerate(endpoints)
        for hour in (0, 1)
    ]
    for first in range(0, len(data), 1000):  # PutMetricData takes 1000 data a call
        cw.put_metric_data(Namespace=ENDPOINTS, MetricData=data[first : first + 1000])
    total = 0.0
    for first in range(0, len(endpoints), 500):
        queries = [
            _query(f"m{n}", ENDPOINTS, _endpoint_dims(vpce, "svc-scale", "vpc-scale"))
            for n, vpce in enumerate(endpoints[first : first + 500], start=first)
        ]
        reply = cw.get_metric_data(MetricDataQueries=queries, StartTime=DAY, EndTime=_at(2))
        assert "NextToken" not in reply
        assert all(len(r["Values"]) == 2 for r in reply["MetricDataResults"])
        total += sum(sum(r["Values"]) for r in reply["MetricDataResults"])
    assert total == sum(2 * n + 1 for n in range(10_000))
