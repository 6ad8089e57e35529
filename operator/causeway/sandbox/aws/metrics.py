"""The CloudWatch side of the sandbox: GetMetricData served from an index of the data
PutMetricData stored, with the validation, statistics and paging the CloudWatch API
reference describes, and the wrapper that counts CloudWatch calls (and the metrics
each GetMetricData requests), injects failures and answers them in CloudWatch's own
wire protocol.

moto keeps storing every datum (GetMetricStatistics, ListMetrics and the rest stay
moto's); only GetMetricData is replaced, and it serves what PutMetricData stored (not
the metrics moto's other services compute on the fly). moto's version scans every
stored datum for every query and every period, ignores the namespace when dimensions
are given, has no query limit and no paging: at ten thousand endpoints a metering pass
would not end.

Metric math and Metrics Insights (`Expression` queries) are refused with a
ValidationError rather than half-modelled: the operator sends MetricStat queries only.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import calendar
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final
from xml.sax.saxutils import escape

import botocore.session
from moto.cloudwatch.exceptions import CloudWatchException, ValidationError
from moto.cloudwatch.models import CloudWatchBackend
from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult, BaseResponse

from causeway.sandbox import faults
from causeway.sandbox.aws.control import _CONTROL, _Failure, _Outage, access_key_of

# GetMetricData limits, from the CloudWatch API reference.
MAX_QUERIES: Final = 500
DEFAULT_MAX_DATAPOINTS: Final = 100_800
STATISTICS: Final = frozenset({"Sum", "SampleCount", "Average", "Minimum", "Maximum"})
# Sub-minute periods exist for high-resolution metrics; every other period is whole minutes.
_HIGH_RESOLUTION_PERIODS: Final = frozenset({1, 5, 10, 20, 30})
_QUERY_ID: Final = re.compile(r"[a-z][A-Za-z0-9_]*")
_SCAN_ORDERS: Final = frozenset({"TimestampAscending", "TimestampDescending"})
_DAY: Final = 86_400

# CloudWatch refuses a throttled call with HTTP 400 and this code (EC2 answers 503
# RequestLimitExceeded); botocore's retry rules know it as a throttle.
CLOUDWATCH_THROTTLED: Final = _Failure("Throttling", "Rate exceeded", False, 400)


class InvalidNextToken(CloudWatchException):
    code = "InvalidNextToken"


# -------------------------------------------------------------------------- index

SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]
"""One metric: namespace, metric name and its exact set of (name, value) dimensions."""


@dataclass(frozen=True, slots=True)
class _Point:
    """One PutMetricData datum, reduced to what the statistics need."""

    at: float  # epoch seconds
    total: float
    count: float
    low: float
    high: float
    unit: str  # "None" when the datum named no unit, as CloudWatch records it


def _at(point: _Point) -> float:
    return point.at


def _epoch(moment: datetime) -> float:
    """moto hands timestamps over as naive UTC datetimes; aware ones are converted."""
    if moment.tzinfo is None:
        return calendar.timegm(moment.timetuple()) + moment.microsecond / 1e6
    return moment.timestamp()


def _point(datum: Mapping[str, Any]) -> _Point:
    """A datum in any of PutMetricData's three forms, in the precedence moto stores them:
    Values (with Counts), else StatisticValues, else Value."""
    stamp = datum.get("Timestamp")
    at = _epoch(stamp) if isinstance(stamp, datetime) else time.time()
    unit = str(datum.get("Unit") or "None")
    values = datum.get("Values")
    if values:
        counts = datum.get("Counts") or [1.0] * len(values)
        floats = [float(v) for v in values]
        weights = [float(c) for c in counts]
        total = sum(v * c for v, c in zip(floats, weights, strict=True))
        return _Point(at, total, sum(weights), min(floats), max(floats), unit)
    stats = datum.get("StatisticValues")
    if stats:
        return _Point(
            at,
            float(stats["Sum"]),
            float(stats["SampleCount"]),
            float(stats["Minimum"]),
            float(stats["Maximum"]),
            unit,
        )
    value = float(datum.get("Value", 0))
    return _Point(at, value, 1.0, value, value, unit)


def series_key(namespace: str, name: str, dimensions: Iterable[Mapping[str, Any]]) -> SeriesKey:
    return namespace, name, frozenset((str(d["Name"]), str(d["Value"])) for d in dimensions)


class MetricIndex:
    """Every datum of one account and region by metric, each metric's data kept in time
    order: a query costs a dictionary lookup and a binary search, not a scan of all data.

    Thread-safe: the server handles requests on parallel threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[SeriesKey, list[_Point]] = {}

    def add(self, namespace: str, metric_data: Iterable[Mapping[str, Any]]) -> None:
        entries = [
            (series_key(namespace, d["MetricName"], d.get("Dimensions") or []), _point(d))
            for d in metric_data
        ]
        with self._lock:
            for key, point in entries:
                points = self._series.setdefault(key, [])
                if not points or points[-1].at <= point.at:
                    points.append(point)  # data mostly arrives in time order
                else:
                    bisect.insort(points, point, key=_at)

    def window(self, key: SeriesKey, start: float, end: float) -> list[_Point]:
        """The metric's data with start <= timestamp < end, oldest first."""
        with self._lock:
            points = self._series.get(key)
            if not points:
                return []
            low = bisect.bisect_left(points, start, key=_at)
            high = bisect.bisect_left(points, end, key=_at)
            return points[low:high]


_INDEX_LOCK = threading.Lock()


def index_of(backend: CloudWatchBackend) -> MetricIndex:
    """The index of one moto backend; it lives on the backend, so moto's reset (which
    rebuilds each backend's state) empties it too."""
    with _INDEX_LOCK:
        index: MetricIndex | None = backend.__dict__.get("_causeway_metric_index")
        if index is None:
            index = MetricIndex()
            backend.__dict__["_causeway_metric_index"] = index
        return index


_original_put_metric_data = CloudWatchBackend.put_metric_data


def _put_metric_data(
    backend: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]
) -> None:
    """moto validates and stores first (it refuses a bad call whole), then the index."""
    _original_put_metric_data(backend, namespace, metric_data)
    index_of(backend).add(namespace, metric_data)


# ------------------------------------------------------------------ GetMetricData


@dataclass(frozen=True)
class _Query:
    id: str
    label: str
    key: SeriesKey
    period: int
    stat: str
    unit: str | None
    return_data: bool


def _invalid(message: str) -> ValidationError:
    return ValidationError(message)


def _parse_query(position: int, query: Mapping[str, Any]) -> _Query:
    member = f"MetricDataQueries.member.{position}"
    query_id = str(query.get("Id") or "")
    if not _QUERY_ID.fullmatch(query_id):
        raise _invalid(
            f"The value {query_id!r} for parameter {member}.Id is invalid: it must start "
            "with a lowercase letter and contain only letters, digits and underscores."
        )
    if "Expression" in query:
        raise _invalid(
            f"{member}.Expression: metric math and Metrics Insights queries are not "
            "modelled by the sandbox; send MetricStat queries."
        )
    stat = query.get("MetricStat")
    if not stat:
        raise _invalid(f"The parameter {member}.MetricStat is required.")
    period = int(stat.get("Period") or 0)
    if period < 1 or (period % 60 and period not in _HIGH_RESOLUTION_PERIODS):
        raise _invalid(
            f"The parameter {member}.MetricStat.Period must be 1, 5, 10, 20, 30 or a "
            f"multiple of 60; got {period}."
        )
    statistic = str(stat.get("Stat") or "")
    if statistic not in STATISTICS:
        raise _invalid(
            f"The value {statistic!r} for parameter {member}.MetricStat.Stat is not "
            f"supported by the sandbox; one of {', '.join(sorted(STATISTICS))}."
        )
    metric = stat.get("Metric") or {}
    name = str(metric.get("MetricName") or "")
    return _Query(
        id=query_id,
        label=str(query.get("Label") or name),
        key=series_key(str(metric.get("Namespace") or ""), name, metric.get("Dimensions") or []),
        period=period,
        stat=statistic,
        unit=stat.get("Unit"),
        return_data=query.get("ReturnData", True) is not False,
    )


def _round_start(start: float, now: float) -> float:
    """CloudWatch rounds StartTime down by its age: to the minute within 15 days, to 5
    minutes within 63 days, to the hour beyond."""
    age = now - start
    step = 60 if age < 15 * _DAY else 300 if age < 63 * _DAY else 3600
    return start - start % step


_Aggregate = tuple[float, float, float, float]  # sum, sample count, minimum, maximum

_STATISTIC: Final[dict[str, Callable[[_Aggregate], float]]] = {
    "Sum": lambda a: a[0],
    "SampleCount": lambda a: a[1],
    "Average": lambda a: a[0] / a[1] if a[1] else 0.0,
    "Minimum": lambda a: a[2],
    "Maximum": lambda a: a[3],
}


def _datapoints(
    index: MetricIndex, query: _Query, start: float, end: float, ascending: bool
) -> list[tuple[float, float]]:
    """(period start, statistic) of every period holding data, periods counted from
    StartTime, in the order ScanBy asks for."""
    buckets: dict[int, _Aggregate] = {}
    for point in index.window(query.key, start, end):
        if query.unit is not None and point.unit != query.unit:
            continue
        slot = int((point.at - start) // query.period)
        seen = buckets.get(slot)
        buckets[slot] = (
            (point.total, point.count, point.low, point.high)
            if seen is None
            else (
                seen[0] + point.total,
                seen[1] + point.count,
                min(seen[2], point.low),
                max(seen[3], point.high),
            )
        )
    statistic = _STATISTIC[query.stat]
    slots = sorted(buckets, reverse=not ascending)
    return [(start + slot * query.period, statistic(buckets[slot])) for slot in slots]


def _fingerprint(params: Mapping[str, Any]) -> str:
    """What a NextToken is bound to: the same queries over the same time range."""
    request = {k: params.get(k) for k in ("MetricDataQueries", "StartTime", "EndTime", "ScanBy")}
    text = json.dumps(request, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _encode_token(fingerprint: str, position: int, offset: int) -> str:
    raw = json.dumps({"r": fingerprint, "q": position, "o": offset})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: str, fingerprint: str, queries: int) -> tuple[int, int]:
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        position, offset = cursor["q"], cursor["o"]
        if (
            cursor["r"] == fingerprint
            and type(position) is int
            and type(offset) is int
            and 0 <= position < queries
            and offset >= 0
        ):
            return position, offset
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError):
        pass
    raise InvalidNextToken("The NextToken is invalid, expired, or belongs to another request.")


def get_metric_data(backend: CloudWatchBackend, params: Mapping[str, Any]) -> dict[str, Any]:
    """GetMetricData for MetricStat queries, as the CloudWatch API reference describes it."""
    raw_queries = params.get("MetricDataQueries") or []
    if len(raw_queries) > MAX_QUERIES:
        raise _invalid(
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )
    queries = [_parse_query(n, q) for n, q in enumerate(raw_queries, start=1)]
    seen: set[str] = set()
    for position, query in enumerate(queries, start=1):
        if query.id in seen:
            raise _invalid(
                f"The value {query.id} for parameter MetricDataQueries.member.{position}.Id "
                "is duplicated."
            )
        seen.add(query.id)
    start, end = _epoch(params["StartTime"]), _epoch(params["EndTime"])
    if end <= start:
        raise _invalid("The parameter EndTime must be greater than StartTime.")
    start = _round_start(start, time.time())
    scan_by = params.get("ScanBy") or "TimestampDescending"
    if scan_by not in _SCAN_ORDERS:
        raise _invalid(f"The value {scan_by!r} for parameter ScanBy is invalid.")
    budget = params.get("MaxDatapoints")
    budget = DEFAULT_MAX_DATAPOINTS if budget is None else int(budget)
    if budget < 1:
        raise _invalid("The parameter MaxDatapoints must be greater than 0.")

    fingerprint = _fingerprint(params)
    token = params.get("NextToken")
    first, offset = _decode_token(token, fingerprint, len(queries)) if token else (0, 0)
    index = index_of(backend)
    results: list[dict[str, Any]] = []
    next_token: str | None = None
    for position in range(first, len(queries)):
        query = queries[position]
        if not query.return_data:
            continue  # with no math to feed, a query not returned is not computed
        points = _datapoints(index, query, start, end, scan_by == "TimestampAscending")
        skip = offset if position == first else 0
        remaining = points[skip:]
        if remaining and budget == 0:
            next_token = _encode_token(fingerprint, position, skip)
            break
        page = remaining[:budget]
        budget -= len(page)
        partial = len(page) < len(remaining)
        results.append(
            {
                "Id": query.id,
                "Label": query.label,
                "Timestamps": [datetime.fromtimestamp(at, UTC) for at, _ in page],
                "Values": [value for _, value in page],
                "StatusCode": "PartialData" if partial else "Complete",
            }
        )
        if partial:
            next_token = _encode_token(fingerprint, position, skip + len(page))
            break
    return {"MetricDataResults": results, "NextToken": next_token}


def _serve_get_metric_data(self: Any) -> ActionResult:
    """Installed as CloudWatchResponse.get_metric_data."""
    return ActionResult(get_metric_data(self.cloudwatch_backend, self._get_params()))


# ------------------------------------------------------- counting and injected errors


@cache
def _modelled_errors() -> dict[str, tuple[str, str, bool]]:
    """CloudWatch's modelled errors by shape name and by query code: (shape name, query
    code, sender fault). CloudWatch is awsQueryCompatible: its JSON answers name the
    shape in `__type` and the query code in `x-amzn-query-error`, and botocore reports
    the query code (InternalServiceFault reaches a client as InternalServiceError)."""
    model = botocore.session.get_session().get_service_model("cloudwatch")
    errors: dict[str, tuple[str, str, bool]] = {}
    for shape in model.error_shapes:
        error = shape.metadata.get("error", {})
        code = str(error.get("code") or shape.name)
        entry = (shape.name, code, bool(error.get("senderFault")))
        errors[shape.name] = errors[code] = entry
    return errors


def _error_response(self: BaseResponse, failure: _Failure) -> TYPE_RESPONSE:
    """An injected error in the protocol the request came in: AWS JSON 1.0 (what botocore
    picks for CloudWatch) or the query protocol's XML (older SDKs, the CLI v1)."""
    shape, code, sender = _modelled_errors().get(
        failure.code, (failure.code, failure.code, failure.status < 500)
    )
    fault = "Sender" if sender else "Receiver"
    request_id = str(uuid.uuid4())
    headers = {**self.response_headers, "x-amzn-RequestId": request_id}
    if str(self.headers.get("Content-Type", "")).startswith("application/x-amz-json"):
        headers["Content-Type"] = "application/x-amz-json-1.0"
        headers["x-amzn-query-error"] = f"{code};{fault}"
        body = json.dumps(
            {"__type": f"com.amazonaws.cloudwatch#{shape}", "message": failure.message}
        )
        return failure.status, headers, body
    headers["Content-Type"] = "text/xml"
    body = (
        '<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
        f"<Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(failure.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return failure.status, headers, body


_original_call_action = BaseResponse.call_action

# moto's CloudWatch backend keeps plain dicts and lists that one request could change
# while another iterates them; each CloudWatch action runs alone, as EC2's do.
_CLOUDWATCH_ACTION_LOCK = threading.Lock()


def _locked_call(self: BaseResponse) -> TYPE_RESPONSE:
    with _CLOUDWATCH_ACTION_LOCK:
        return _original_call_action(self)


def _controlled_call_action(self: BaseResponse) -> TYPE_RESPONSE:
    """Count every CloudWatch call and the metrics it requests; serve injected failures
    before or after the real work. Installed as CloudWatchResponse.call_action."""
    action = self._get_action()
    requested = len(self._get_param("MetricDataQueries") or []) if action == "GetMetricData" else 0
    failure = _CONTROL.record(
        action,
        throttle=CLOUDWATCH_THROTTLED,
        metrics=requested,
        access_key=access_key_of(self.headers),
    ) or faults.aws_fault(action, self.headers.get("User-Agent", ""), throttle=CLOUDWATCH_THROTTLED)
    if failure is None:
        with _CLOUDWATCH_ACTION_LOCK:
            return _original_call_action(self)
    if isinstance(failure, faults.Drop):
        faults.drop_connection(self, failure, lambda: _locked_call(self))
        return 500, {}, ""  # never reaches the client: its connection is gone
    if isinstance(failure, _Outage):
        return failure.status, {"Content-Type": "text/html"}, failure.body
    if failure.after_effect:
        with _CLOUDWATCH_ACTION_LOCK:
            _original_call_action(self)  # the effect happens; only the response is lost
    return _error_response(self, failure)
