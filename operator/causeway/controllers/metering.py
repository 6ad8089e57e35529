"""The metering controller: one for all tenants. Every `metering.interval` it reads
the `BytesProcessed` of every endpoint that can have carried traffic today from
CloudWatch (one metric per endpoint, 500 per GetMetricData call, each call within
the AWS budget), sums them per tenant for the UTC hour and day, blocks the outbound
traffic of a tenant that reached its hourly limit until the top of the hour (the
region reconcilers swap the security groups), and has ConnectionQuota status written.

CloudWatch is the source of truth: each cycle asks for the whole day so far, so a
restarted operator recomputes the same figures, with nothing counted twice or lost.
Metered are the endpoints available now, and every endpoint seen available earlier
today (a connection deleted mid-hour still counts for the hours it used); the ones
that are gone are kept in the quota's status, so a restart still counts them. An
endpoint never available today cannot have carried traffic and is not asked for; but
a restarted operator cannot know which of the endpoints AWS lists as deleted or
rejected were available before (a crash between a teardown and the next cycle's
status write), so its first cycle asks for those too and keeps the ones with traffic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial

from causeway.api import CONNECTION_QUOTA, INBOUND, OUTBOUND
from causeway.aws.metrics import EndpointMetrics, Hourly, batches
from causeway.controllers.entitlements import allocations
from causeway.controllers.waiting import until
from causeway.domain import Direction, MeteredEndpoint
from causeway.errors import AwsCallError, ErrorContext, classify, describe
from causeway.fence import FencedError
from causeway.reconcile.admission import QuotaUse
from causeway.reconcile.metering import Periods, Series, outbound_blocked_until, periods, tally
from causeway.reconcile.phases import normalize
from causeway.reconcile.status import Problem
from causeway.runtime import Runtime

logger = logging.getLogger("causeway.metering")
NOT_LISTED_RETRY_SECONDS = 1.0  # a cycle waits for every region's first listing
AVAILABLE = "available"
# States an endpoint is listed in after its life ended (it may have been available before).
ENDED = frozenset({"deleting", "deleted", "rejected", "failed", "expired"})


@dataclass
class CycleReport:
    """What one metering cycle did (logged, and read by tests and the benchmark)."""

    endpoints: int = 0
    calls: int = 0  # GetMetricData calls
    metrics: int = 0  # metrics requested (what CloudWatch bills)
    tenants: int = 0
    failed_regions: dict[str, str] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)  # tenants newly blocked
    reopened: list[str] = field(default_factory=list)  # tenants whose block ended
    patched: int = 0
    skipped: str | None = None
    failed: bool = False  # the cycle itself broke (a bug), not only a region's CloudWatch
    duration: float = 0.0


class MeteringController:
    """Measures every tenant's usage on a fixed cadence."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._wake = asyncio.Event()
        self._day: date | None = None
        self._seen: dict[str, MeteredEndpoint] = {}  # available at some time today, by id
        # Restored at start from AWS's listing, not seen available: kept only if they carried
        # traffic today.
        self._presumed: set[str] = set()
        self._restored = False
        self._failing: dict[str, str] = {}  # regions whose CloudWatch failed last cycle
        self.last_report: CycleReport | None = None

    def kick(self) -> None:
        """A cycle now (the demo and tests move the injected clock)."""
        self._wake.set()

    async def run(self, stopped: asyncio.Event) -> None:
        interval = self._runtime.config.metering.interval.total_seconds()
        await until(stopped, self._runtime.index.ready.wait())
        while not stopped.is_set():
            report = await self.cycle_safely()
            wait = NOT_LISTED_RETRY_SECONDS if report.skipped else self._next_wait(interval)
            self._wake.clear()
            await until(stopped, self._wake.wait(), timeout=wait)

    def _next_wait(self, interval: float) -> float:
        """The interval, or less when a block ends sooner: the endpoints reopen at the
        top of the hour, not up to an interval later."""
        now = self._runtime.clock()
        ends = [
            (until - now).total_seconds()
            for until in self._runtime.meter.block_ends()
            if until > now
        ]
        return max(0.0, min([interval, *ends]))

    async def cycle_safely(self) -> CycleReport:
        try:
            report = await self.cycle()
        except FencedError as exc:  # stopping, or no longer leading: nothing to measure
            logger.info("Metering cycle stopped: %s", exc)
            report = CycleReport(skipped="not acting")
        except Exception:
            logger.exception("Metering cycle failed unexpectedly; retrying next interval")
            report = CycleReport(skipped="unexpected error", failed=True)
        if report.failed or not report.skipped:
            failed = report.failed or bool(report.failed_regions)
            self._runtime.metrics.metering_cycle(failed=failed)
        return report

    async def cycle(self) -> CycleReport:
        """One cycle: measure, decide blocks, report."""
        started = self._runtime.monotonic()
        report = CycleReport()
        if not self._listed():
            report.skipped = "waiting for every region's first listing"
            return report
        now = self._runtime.clock()
        at = periods(now)
        self._start_day(at)
        live = self._live()
        self._seen.update(live)
        metered = list(self._seen.values())
        report.endpoints = len(metered)
        hourly, failed = await self._read(metered, at, report)
        self._record(metered, hourly, failed, at=at, now=now, report=report)
        self._retire(live, hourly)
        report.patched = await self._runtime.quotas.report()
        if report.blocked or report.reopened:
            self._runtime.kick_all()  # the region passes block or reopen the endpoints
        report.duration = self._runtime.monotonic() - started
        self._log(report)
        self.last_report = report
        return report

    # -- what to meter -------------------------------------------------------------------

    def _listed(self) -> bool:
        """Every region with connections was listed once: before that, its endpoints
        are unknown, and a cycle would count their tenants' traffic as none."""
        index = self._runtime.index
        for region, view in self._runtime.views.items():
            has_objects = any(index[kind].in_region(region) for kind in (OUTBOUND, INBOUND))
            if has_objects and not view.ever_listed:
                return False
        return True

    def _start_day(self, at: Periods) -> None:
        """A new UTC day meters only what is available now; at the first cycle, the
        endpoints the quotas' status keeps for today count again."""
        today = at.day.date()
        if self._day != today:
            self._day = today
            self._seen = {}
            self._presumed = set()
        if not self._restored:
            self._restored = True
            for endpoint in _kept_in_status(self._runtime, today.isoformat()):
                self._seen.setdefault(endpoint.id, endpoint)
            for endpoint in self._ended():
                if endpoint.id not in self._seen:
                    self._seen[endpoint.id] = endpoint
                    self._presumed.add(endpoint.id)

    def _ended(self) -> list[MeteredEndpoint]:
        """The platform's endpoints AWS still lists after their life ended (deleted,
        rejected, ...): one may have carried traffic today while this process was not
        running, or before a crash kept it in status (the window between the teardown
        and the next cycle); metering them at start loses none of their bytes."""
        return [
            MeteredEndpoint(
                endpoint.id,
                region,
                endpoint.owner_namespace,
                Direction.OUTBOUND,
                endpoint.service_name,
                endpoint.vpc_id,  # CloudWatch's "VPC Id": the endpoint's own VPC
            )
            for region, view in self._runtime.views.items()
            for endpoint in view.all_endpoints()
            if endpoint.owner_namespace and normalize(endpoint.state) in ENDED
        ]

    def _live(self) -> dict[str, MeteredEndpoint]:
        """Endpoints that can carry traffic now: the platform's available endpoints (its
        tenant from the owner tag), and accepted connections Causeway holds a range for."""
        found: dict[str, MeteredEndpoint] = {}
        regions = self._runtime.config.regions
        for region, view in self._runtime.views.items():
            for endpoint in view.all_endpoints():
                if endpoint.owner_namespace and normalize(endpoint.state) == AVAILABLE:
                    found[endpoint.id] = MeteredEndpoint(
                        endpoint.id,
                        region,
                        endpoint.owner_namespace,
                        Direction.OUTBOUND,
                        endpoint.service_name,
                        endpoint.vpc_id,  # CloudWatch's "VPC Id": the endpoint's own VPC
                    )
        for held in allocations(self._runtime):
            served = self._runtime.views.get(held.region)
            service_id = regions[held.region].inboundServiceId if held.region in regions else None
            request = served.connection(held.endpoint_id) if served is not None else None
            if service_id and request and normalize(request.state) == AVAILABLE:
                found[held.endpoint_id] = MeteredEndpoint(
                    held.endpoint_id,
                    held.region,
                    held.owner_namespace,
                    Direction.INBOUND,
                    service_id,
                )
        return found

    # -- reading CloudWatch --------------------------------------------------------------

    async def _read(
        self, metered: Sequence[MeteredEndpoint], at: Periods, report: CycleReport
    ) -> tuple[dict[str, Hourly], dict[str, Problem]]:
        """Every endpoint's hourly bytes today, region by region (in parallel); the
        regions CloudWatch could not answer for, with why."""
        by_region: dict[str, list[MeteredEndpoint]] = defaultdict(list)
        for endpoint in metered:
            by_region[endpoint.region].append(endpoint)
        hourly: dict[str, Hourly] = {}
        failed: dict[str, Problem] = {}
        stopped: list[FencedError] = []

        async def one(region: str, endpoints: list[MeteredEndpoint]) -> None:
            try:
                hourly.update(await self._read_region(region, endpoints, at, report))
            except FencedError as exc:
                # Stopping, or no longer leading: raised below, in the cycle's own task (a
                # child task ending in an exception is raised again by kopf as it stops).
                stopped.append(exc)
            except AwsCallError as exc:
                rule = classify(exc)
                message = describe(exc, ErrorContext(region=region))
                failed[region] = Problem(rule.reason, f"CloudWatch in {region}: {message}", False)
                report.failed_regions[region] = rule.reason

        await asyncio.gather(*(one(r, e) for r, e in sorted(by_region.items())))
        if stopped:
            raise stopped[0]
        return hourly, failed

    async def _read_region(
        self, region: str, endpoints: list[MeteredEndpoint], at: Periods, report: CycleReport
    ) -> dict[str, Hourly]:
        metrics = EndpointMetrics(self._runtime.clients.client("cloudwatch", region))
        found: dict[str, Hourly] = {}
        for batch in batches(endpoints):
            token: str | None = None
            while True:
                page = partial(asyncio.to_thread, metrics.page, batch, at.day, at.next_hour, token)
                got, token = await self._runtime.budget.call(region, "GetMetricData", page)
                report.calls += 1
                report.metrics += len(batch)
                for endpoint_id, hours in got.items():
                    merged = found.setdefault(endpoint_id, {})
                    for hour, value in hours.items():
                        merged[hour] = merged.get(hour, 0.0) + value
                if not token:
                    break
        return found

    # -- what it means -------------------------------------------------------------------

    def _record(
        self,
        metered: Sequence[MeteredEndpoint],
        hourly: Mapping[str, Hourly],
        failed: Mapping[str, Problem],
        *,
        at: Periods,
        now: datetime,
        report: CycleReport,
    ) -> None:
        """Usage for each tenant whose every endpoint was read; the others keep their last
        figures and say why. Blocks for those that reached the hourly limit."""
        meter = self._runtime.meter
        problems = {e.namespace: failed[e.region] for e in metered if e.region in failed}
        measured = [e for e in metered if e.namespace not in problems]
        series = [Series(e.namespace, e.direction, hourly.get(e.id, {})) for e in measured]
        tenants = set(self._quota_namespaces()) | {e.namespace for e in metered}
        usages = tally(series, at, tenants - set(problems))
        report.tenants = len(tenants)
        for namespace, problem in problems.items():
            meter.failed(namespace, problem)
        for namespace, usage in usages.items():
            meter.measured(namespace, usage, now)
            limits = self._runtime.quotas.allowance(self._licence_use(namespace))
            reopens = outbound_blocked_until(usage, limits)
            if (
                reopens is not None
                and reopens > now
                and meter.block(namespace, reopens, self._runtime.monotonic())
            ):
                report.blocked.append(namespace)
        report.reopened = meter.blocks_ended(now)

    def _retire(self, live: Mapping[str, MeteredEndpoint], hourly: Mapping[str, Hourly]) -> None:
        """Endpoints seen available today and no longer: kept (in status) to the day's end.
        One only presumed (restored from the listing) is kept once it shows traffic today."""
        day = self._day.isoformat() if self._day else ""
        retired: dict[str, list[dict[str, str]]] = defaultdict(list)
        for endpoint in self._seen.values():
            carried = any(hourly.get(endpoint.id, {}).values())
            if endpoint.id in self._presumed and not carried:
                continue
            if endpoint.id not in live:
                retired[endpoint.namespace].append(_kept(endpoint, day))
        for namespace in set(retired) | set(self._quota_namespaces()):
            entries = sorted(retired.get(namespace, []), key=lambda e: e["id"])
            self._runtime.meter.set_retired(namespace, tuple(entries))

    def _quota_namespaces(self) -> list[str]:
        return [q.namespace for q in self._runtime.index[CONNECTION_QUOTA].all()]

    def _licence_use(self, namespace: str) -> QuotaUse | None:
        use = self._runtime.licence_use
        return use.get(namespace) if use else None

    def _log(self, report: CycleReport) -> None:
        """One line per cycle: INFO when a tenant was blocked or reopened, DEBUG
        otherwise. CloudWatch failing is said once per region when it starts (WARNING)
        and once when it ends (INFO), not every cycle."""
        for region, reason in sorted(report.failed_regions.items()):
            if region not in self._failing:
                logger.warning(
                    "Metering cannot read CloudWatch in %s (%s); usage figures and blocks "
                    "stay as they are until it can",
                    region,
                    reason,
                )
        for region in sorted(set(self._failing) - set(report.failed_regions)):
            logger.info("Metering reads CloudWatch in %s again", region)
        self._failing = dict(report.failed_regions)
        logger.log(
            logging.INFO if report.blocked or report.reopened else logging.DEBUG,
            "Metering: %d endpoints of %d tenants, %d metrics requested in %d GetMetricData "
            "calls%s%s, %d quota statuses written, %.2fs",
            report.endpoints,
            report.tenants,
            report.metrics,
            report.calls,
            f"; blocked {', '.join(report.blocked)}" if report.blocked else "",
            f"; reopened {', '.join(report.reopened)}" if report.reopened else "",
            report.patched,
            report.duration,
        )


def _kept(endpoint: MeteredEndpoint, day: str) -> dict[str, str]:
    entry = {
        "id": endpoint.id,
        "region": endpoint.region,
        "direction": endpoint.direction.value,
        "service": endpoint.service,
        "day": day,
    }
    if endpoint.vpc_id:
        entry["vpcId"] = endpoint.vpc_id
    return entry


def _kept_in_status(runtime: Runtime, day: str) -> list[MeteredEndpoint]:
    """The endpoints the quotas' status keeps for `day` (written before a restart)."""
    found = []
    for quota in runtime.index[CONNECTION_QUOTA].all():
        for entry in quota.status.get("retiredEndpoints") or []:
            if entry.get("day") != day or entry.get("region") not in runtime.config.regions:
                continue
            with contextlib.suppress(KeyError, ValueError):
                found.append(
                    MeteredEndpoint(
                        str(entry["id"]),
                        str(entry["region"]),
                        quota.namespace,
                        Direction(entry["direction"]),
                        str(entry["service"]),
                        str(entry.get("vpcId") or ""),
                    )
                )
    return found
