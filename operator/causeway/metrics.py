"""The operator's Prometheus metrics: every series it exports, named the way
controller-runtime names its own (`causeway_reconcile_total{kind,result}`, …), and
the HTTP endpoint that serves them.

Counters and the duration histogram are updated where the work happens. Gauges of
state (connections by phase, quota figures, the AWS budget) are read at scrape time
from what the operator already holds (the cluster index and the budget), so they
can never disagree with it and cost nothing between scrapes.

Each Runtime has its own registry: several operators can run in one process (the
tests, the demo) without adding up each other's figures.

The tenant is the `tenant` label, never `namespace`: scraped without honorLabels,
Prometheus gives every series the target's own `namespace` (the operator's) and
renames a `namespace` of ours to `exported_namespace`. Units are in the names
(`_calls_per_second`, `_bytes`); no `_created` series (counters are read with rate())."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from causeway.api import CONNECTION_QUOTA, INBOUND, NAMED_CREDENTIAL, OUTBOUND, Phase
from causeway.api.kinds import KindInfo
from causeway.aws.session import CallRecord
from causeway.controllers.budget import THROTTLED

if TYPE_CHECKING:
    from causeway.controllers.budget import Budget
    from causeway.index import ClusterIndex
    from causeway.reconcile.placement import VpcUsage

# The `_created` series double every counter's series and no query reads them. (A
# process-wide switch of prometheus_client; Causeway exports nothing else.)
disable_created_metrics()  # type: ignore[no-untyped-call]

TENANT = "tenant"  # the label naming the tenant (its namespace) on the quota series
UNKNOWN_PHASE = "Unknown"  # an object the operator has not written a status for yet
CREDENTIAL_PHASES = ("Ready", "Pending", "Invalid")
# Reconciles are mostly a status write (milliseconds) or one AWS call (sub-second);
# buckets up to a minute catch an AWS call that waited for the budget.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# ConnectionQuota status field → the `window` label of the byte gauges.
QUOTA_WINDOWS = {
    "dailyBytes": "daily",
    "hourlyOutboundBytes": "outbound_hourly",
    "hourlyInboundBytes": "inbound_hourly",
}


class Result(StrEnum):
    """How one reconcile of one object ended (controller-runtime's `result` label)."""

    SUCCESS = "success"  # the object's status says what is true now
    ERROR = "error"  # terminal: only a spec change (or the tenant) can help
    REQUEUE = "requeue"  # recoverable, or waiting its turn: it will be tried again


class Outcome(StrEnum):
    """How one AWS API call ended (the `outcome` label)."""

    SUCCESS = "success"
    THROTTLED = "throttled"
    ERROR = "error"  # AWS answered with another error code
    UNREACHABLE = "unreachable"  # no answer: network, DNS, timeout


def outcome_of(record: CallRecord) -> Outcome:
    if record.error is None:
        return Outcome.SUCCESS
    if not record.answered:
        return Outcome.UNREACHABLE
    return Outcome.THROTTLED if record.error in THROTTLED else Outcome.ERROR


class Metrics:
    """The registry of one operator, and the updates its controllers make."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._reconciles = Counter(
            "causeway_reconcile",
            "Reconciles of Causeway objects, by kind and result (success, error, requeue).",
            ("kind", "result"),
            registry=self.registry,
        )
        self._durations = Histogram(
            "causeway_reconcile_duration_seconds",
            "Time one object's reconcile took: its AWS work, if any, and its status write.",
            ("kind",),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._aws_calls = Counter(
            "causeway_aws_api_calls",
            "AWS API calls the operator made, by region, operation and outcome.",
            ("region", "operation", "outcome"),
            registry=self.registry,
        )
        self._metering_cycles = Counter(
            "causeway_metering_cycles",
            "Metering cycles (read usage from CloudWatch, enforce limits), by result.",
            ("result",),
            registry=self.registry,
        )
        self._leader = Gauge(
            "causeway_leader",
            "1 on the replica that holds the leader Lease and acts; 0 on a standby.",
            registry=self.registry,
        )
        self._leading = True  # a single replica acts; leader election says otherwise
        self._transit_used = Gauge(
            "causeway_transit_endpoints",
            "Interface endpoints in each transit VPC (not yet deleted, and creations in "
            "flight), as placement counts them.",
            ("region", "vpc"),
            registry=self.registry,
        )
        self._transit_capacity = Gauge(
            "causeway_transit_endpoint_capacity",
            "Endpoints a transit VPC holds: maxEndpoints, else the account's quota (0 for a "
            "VPC no longer configured).",
            ("region", "vpc"),
            registry=self.registry,
        )
        self._transit_open = Gauge(
            "causeway_transit_vpc_open",
            "1 while a transit VPC takes new endpoints (configured and not draining).",
            ("region", "vpc"),
            registry=self.registry,
        )
        self._transit_vpcs: dict[str, set[str]] = {}
        self._start_labels()

    def _start_labels(self) -> None:
        """Every kind and result is exported from the start (as 0), so rates and alerts
        work before the first event of each kind."""
        for kind in (OUTBOUND, INBOUND, NAMED_CREDENTIAL):
            self._durations.labels(kind.kind)
            for result in Result:
                self._reconciles.labels(kind.kind, result.value)
        for result in (Result.SUCCESS, Result.ERROR):
            self._metering_cycles.labels(result.value)

    def reconciled(self, kind: KindInfo, result: Result, seconds: float | None = None) -> None:
        self._reconciles.labels(kind.kind, result.value).inc()
        if seconds is not None:
            self._durations.labels(kind.kind).observe(max(seconds, 0.0))

    def aws_call(self, record: CallRecord) -> None:
        """A ClientFactory listener: counts every call as it ends."""
        self._aws_calls.labels(record.region, record.operation, outcome_of(record).value).inc()

    def leader(self, *, leading: bool) -> None:
        """Whether this replica acts. Only the acting one exports the state gauges below:
        two replicas exporting the same view would double every sum over them."""
        self._leading = leading
        self._leader.set(1 if leading else 0)

    def transit_capacity(self, region: str, usages: Iterable[VpcUsage]) -> None:
        """Each transit VPC's used, capacity and whether it is open, as of this pass."""
        seen = set()
        for vpc in usages:
            seen.add(vpc.vpc_id)
            self._transit_used.labels(region, vpc.vpc_id).set(vpc.used)
            self._transit_capacity.labels(region, vpc.vpc_id).set(vpc.capacity)
            is_open = vpc.configured and not vpc.draining
            self._transit_open.labels(region, vpc.vpc_id).set(1 if is_open else 0)
        for gone in self._transit_vpcs.get(region, set()) - seen:
            for gauge in (self._transit_used, self._transit_capacity, self._transit_open):
                gauge.remove(region, gone)
        self._transit_vpcs[region] = seen

    def metering_cycle(self, *, failed: bool) -> None:
        self._metering_cycles.labels((Result.ERROR if failed else Result.SUCCESS).value).inc()

    def observe_state(
        self,
        index: ClusterIndex,
        budget: Budget,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Export the scrape-time gauges read from the operator's index and budget
        (`monotonic`: the clock the index's informers stamp with)."""
        self.registry.register(_StateCollector(index, budget, lambda: self._leading))
        self.registry.register(_IndexCollector(index, monotonic))

    def serve(self, host: str, port: int) -> MetricsServer:
        """Serve /metrics (any path, as prometheus_client does) on a daemon thread."""
        server, thread = start_http_server(port, host, registry=self.registry)
        return MetricsServer(server, thread)


@dataclass(frozen=True)
class MetricsServer:
    """The running metrics endpoint; `close` stops it (tests and the demo)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _IndexCollector(Collector):
    """Whether each kind's index is synced and how fresh it is, on every replica (a
    standby's warmth is what a takeover depends on)."""

    def __init__(self, index: ClusterIndex, monotonic: Callable[[], float]) -> None:
        self._index = index
        self._monotonic = monotonic

    def collect(self) -> Iterable[Metric]:
        synced = GaugeMetricFamily(
            "causeway_index_synced",
            "1 once the kind's objects were listed in full and are being watched, else 0.",
            labels=("kind",),
        )
        age = GaugeMetricFamily(
            "causeway_index_age_seconds",
            "Seconds since the API server last confirmed the kind's index current (its "
            "listing, a watch event or bookmark); absent before the first listing.",
            labels=("kind",),
        )
        for kind, seconds in sorted(self._index.ages(self._monotonic()).items()):
            synced.add_metric((kind,), 0 if seconds is None else 1)
            if seconds is not None:
                age.add_metric((kind,), round(seconds, 3))
        yield synced
        yield age


class _StateCollector(Collector):
    """Gauges computed from the operator's own view at each scrape (on the acting
    replica only)."""

    def __init__(self, index: ClusterIndex, budget: Budget, leading: Callable[[], bool]) -> None:
        self._index = index
        self._budget = budget
        self._leading = leading

    def collect(self) -> Iterable[Metric]:
        if not self._leading():
            return
        yield self._connections()
        yield from self._quotas()
        yield from self._budget_lanes()

    def _connections(self) -> Metric:
        family = GaugeMetricFamily(
            "causeway_connections",
            "Causeway objects by kind and phase (Unknown: no status written yet).",
            labels=("kind", "phase"),
        )
        connection_phases = [p.value for p in Phase]
        for kind, phases in (
            (OUTBOUND, connection_phases),
            (INBOUND, connection_phases),
            (NAMED_CREDENTIAL, list(CREDENTIAL_PHASES)),
        ):
            counts = dict.fromkeys([*phases, UNKNOWN_PHASE], 0)
            for snapshot in self._index[kind].all():
                phase = str(snapshot.status.get("phase") or UNKNOWN_PHASE)
                counts[phase] = counts.get(phase, 0) + 1
            for phase, count in sorted(counts.items()):
                family.add_metric((kind.kind, phase), count)
        return family

    def _quotas(self) -> Iterable[Metric]:
        licenses = GaugeMetricFamily(
            "causeway_quota_licenses",
            "Licenses a tenant's ConnectionQuota grants (spec.licenses).",
            labels=(TENANT,),
        )
        connections = GaugeMetricFamily(
            "causeway_quota_licensed_connections",
            "Connections holding a license, by tenant and direction.",
            labels=(TENANT, "direction"),
        )
        used = GaugeMetricFamily(
            "causeway_quota_used_bytes",
            "Bytes used in the current window (daily: both directions; hourly: one).",
            labels=(TENANT, "window"),
        )
        limit = GaugeMetricFamily(
            "causeway_quota_limit_bytes",
            "The tenant's limit for the window (outbound_hourly is hard; the others soft).",
            labels=(TENANT, "window"),
        )
        blocked = GaugeMetricFamily(
            "causeway_quota_blocked",
            "1 while the tenant's outbound traffic is blocked by the hourly limit.",
            labels=(TENANT,),
        )
        for snapshot in sorted(self._index[CONNECTION_QUOTA].all(), key=lambda s: s.key):
            namespace, status = snapshot.namespace, snapshot.status
            licenses.add_metric((namespace,), float(snapshot.spec.get("licenses") or 0))
            in_use: Mapping[str, Any] = status.get("used") or {}
            hard: Mapping[str, Any] = status.get("hard") or {}
            for direction in ("outbound", "inbound"):
                held = in_use.get(f"{direction}Connections") or 0
                connections.add_metric((namespace, direction), float(held))
            for field, window in QUOTA_WINDOWS.items():
                if in_use.get(field) is not None:
                    used.add_metric((namespace, window), float(in_use[field]))
                if hard.get(field) is not None:
                    limit.add_metric((namespace, window), float(hard[field]))
            blocked.add_metric((namespace,), 1.0 if _blocked(status) else 0.0)
        yield from (licenses, connections, used, limit, blocked)

    def _budget_lanes(self) -> Iterable[Metric]:
        throttles = CounterMetricFamily(
            "causeway_aws_throttles",
            "Times AWS throttled a call of this API in this region (each slows it down).",
            labels=("region", "api"),
        )
        rate = GaugeMetricFamily(
            "causeway_aws_budget_calls_per_second",
            "Calls per second the operator currently allows itself, per region and API.",
            labels=("region", "api"),
        )
        waiting = GaugeMetricFamily(
            "causeway_aws_budget_waiting",
            "Calls waiting for a token of the AWS budget, per region and API.",
            labels=("region", "api"),
        )
        for lane in sorted(self._budget.lanes(), key=lambda lane: (lane.region, lane.api)):
            labels = (lane.region, lane.api)
            throttles.add_metric(labels, float(lane.bucket.throttles))
            rate.add_metric(labels, lane.bucket.rate)
            waiting.add_metric(labels, float(lane.waiting))
        yield from (throttles, rate, waiting)


def _blocked(status: Mapping[str, Any]) -> bool:
    return any(
        condition.get("type") == "OutboundBlocked" and condition.get("status") == "True"
        for condition in status.get("conditions") or ()
    )
