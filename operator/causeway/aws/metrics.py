"""Endpoints' `BytesProcessed` from CloudWatch, read with GetMetricData.

CloudWatch bills GetMetricData per metric requested, whatever the time range, so each
endpoint is asked for once per call: one metric with a one-hour period from the start
of the UTC day, which gives every hour of the day (the current hour is the last one).
Up to 500 metrics go in one call, and a call's answer may come in pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from causeway.aws.session import aws_call
from causeway.domain import Direction, MeteredEndpoint
from causeway.errors import AwsCallError

BATCH = 500  # the most MetricDataQueries GetMetricData takes
PERIOD_SECONDS = 3600
METRIC = "BytesProcessed"
OUTBOUND_NAMESPACE = "AWS/PrivateLinkEndpoints"
INBOUND_NAMESPACE = "AWS/PrivateLinkServices"

Hourly = dict[datetime, float]  # bytes by the start of each UTC hour


def metric_of(endpoint: MeteredEndpoint) -> dict[str, Any]:
    """The metric CloudWatch keeps for the endpoint's traffic: the platform's endpoints
    under AWS/PrivateLinkEndpoints, connections to the platform's service under
    AWS/PrivateLinkServices, each with its documented dimension set."""
    if endpoint.direction is Direction.OUTBOUND:
        dimensions = {
            "Endpoint Type": "Interface",
            "Service Name": endpoint.service,
            "VPC Endpoint Id": endpoint.id,
            "VPC Id": endpoint.vpc_id,
        }
        namespace = OUTBOUND_NAMESPACE
    else:
        dimensions = {"Service Id": endpoint.service, "VPC Endpoint Id": endpoint.id}
        namespace = INBOUND_NAMESPACE
    return {
        "Namespace": namespace,
        "MetricName": METRIC,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
    }


def batches(endpoints: Sequence[MeteredEndpoint]) -> list[Sequence[MeteredEndpoint]]:
    return [endpoints[i : i + BATCH] for i in range(0, len(endpoints), BATCH)]


class EndpointMetrics:
    """GetMetricData in one region."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch

    def page(
        self,
        batch: Sequence[MeteredEndpoint],
        start: datetime,
        end: datetime,
        token: str | None = None,
    ) -> tuple[dict[str, Hourly], str | None]:
        """One page of the hourly bytes of up to 500 endpoints (by endpoint id), and the
        token of the next page (None: this was the last). Pass the same batch, start and
        end with the token, as CloudWatch requires."""
        if len(batch) > BATCH:
            raise ValueError(f"at most {BATCH} endpoints per call")
        queries = [
            {
                "Id": f"e{i}",
                "MetricStat": {"Metric": metric_of(e), "Period": PERIOD_SECONDS, "Stat": "Sum"},
                "ReturnData": True,
            }
            for i, e in enumerate(batch)
        ]
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        if token:
            kwargs["NextToken"] = token
        with aws_call("GetMetricData"):
            response = self._cloudwatch.get_metric_data(**kwargs)
        found: dict[str, Hourly] = {e.id: {} for e in batch}
        for result in response.get("MetricDataResults", []):
            _check(result)
            endpoint = batch[int(str(result["Id"])[1:])]
            hourly = found[endpoint.id]
            pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
            for moment, value in pairs:
                hour = _utc(moment)
                hourly[hour] = hourly.get(hour, 0.0) + float(value)
        return found, response.get("NextToken") or None


def _check(result: dict[str, Any]) -> None:
    """A query CloudWatch could not answer fails the call: a figure it left out must
    not read as no traffic."""
    status = result.get("StatusCode", "Complete")
    if status in ("Complete", "PartialData"):
        return
    messages = "; ".join(str(m.get("Value", "")) for m in result.get("Messages", []))
    code = "AccessDenied" if status == "Forbidden" else "InternalFailure"
    raise AwsCallError("GetMetricData", code, f"{status}: {messages or 'no detail'}")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
