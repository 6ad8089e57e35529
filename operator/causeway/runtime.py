"""What every controller needs at run time: the config, AWS clients per region, the
Kubernetes status writer, the cluster index, the operator's memory of each object,
the platform's AWS health, what metering knows, the latest licence count, and the
clocks. Built once by the operator and handed to controllers and handlers, so tests
can swap any part."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from causeway.api import ALL_KINDS
from causeway.aws.connections import ServiceConnections
from causeway.aws.endpoints import TransitEndpoints
from causeway.aws.groups import TransitGroups
from causeway.aws.network import TransitNetwork
from causeway.aws.services import EndpointServices
from causeway.aws.session import ClientFactory
from causeway.clock import Clock, utc_now
from causeway.config import DEFAULT_ENDPOINTS_PER_VPC, OperatorConfig
from causeway.controllers.budget import BucketSettings, Budget
from causeway.controllers.health import PlatformHealth
from causeway.controllers.memory import ObjectMemories
from causeway.controllers.meter import Meter
from causeway.controllers.observation import RegionView
from causeway.controllers.quotas import QuotaReporter
from causeway.index import ClusterIndex
from causeway.kube import KubeApi
from causeway.metrics import Metrics
from causeway.reconcile.admission import QuotaUse


@dataclass
class Runtime:
    config: OperatorConfig
    clients: ClientFactory
    kube: KubeApi
    clock: Clock = utc_now
    monotonic: Callable[[], float] = time.monotonic
    index: ClusterIndex = field(default_factory=lambda: ClusterIndex(ALL_KINDS))
    health: PlatformHealth = field(default_factory=PlatformHealth)
    memories: ObjectMemories = field(init=False)
    budget: Budget = field(init=False)  # who gets the next AWS call
    views: dict[str, RegionView] = field(init=False)  # what AWS holds, per region
    meter: Meter = field(default_factory=Meter)  # usage and blocks, per tenant
    licence_use: Mapping[str, QuotaUse] | None = field(default=None, init=False)  # latest
    quotas: QuotaReporter = field(init=False)  # writes ConnectionQuota status
    metrics: Metrics = field(default_factory=Metrics)  # what Prometheus scrapes
    # Admission reads every region's view and must not interleave with another region's
    # pass starting work on the licenses it just judged.
    admission_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    # The account's quota of interface endpoints per VPC, by region, as last read from
    # Service Quotas (absent: not read, AWS's default applies).
    endpoint_quotas: dict[str, int] = field(default_factory=dict)
    capacity_read_at: dict[str, float] = field(default_factory=dict)  # monotonic, by region
    # Transit VPCs whose configured subnets or groups belong to another VPC, by region.
    unusable_vpcs: dict[str, set[str]] = field(default_factory=dict)
    # Configured transit subnet -> its Availability Zone ID, by region (read at start).
    subnet_zones: dict[str, dict[str, str]] = field(default_factory=dict)
    _kickers: dict[str, Callable[[float], None]] = field(default_factory=dict, init=False)
    _metering_kicker: Callable[[], None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.memories = ObjectMemories(clock=self.monotonic)
        overrides = {
            api: BucketSettings(burst=bucket.burst, rate=bucket.rate)
            for api, bucket in self.config.awsBudget.items()
        }
        self.budget = Budget(overrides, clock=self.monotonic)
        self.views = {region: RegionView(clock=self.monotonic) for region in self.config.regions}
        self.quotas = QuotaReporter(self)
        self.clients.listen(self.metrics.aws_call)
        self.metrics.observe_state(self.index, self.budget, self.monotonic)

    def fence(self, may_act: Callable[[], bool]) -> None:
        """Let `may_act` (the leader election's) allow or refuse every AWS call and
        every Kubernetes write this runtime makes."""
        self.clients.fence.follow(may_act)
        self.kube.fence.follow(may_act)

    def transit_endpoints(self, region: str) -> TransitEndpoints:
        """The endpoint API for a region that is in the config (KeyError otherwise)."""
        return TransitEndpoints(self.clients.client("ec2", region), self.config.regions[region])

    def transit_groups(self, region: str) -> TransitGroups:
        """The transit VPCs' security groups of a region (tenant groups: the block)."""
        return TransitGroups(self.clients.client("ec2", region))

    def transit_network(self, region: str) -> TransitNetwork:
        """Subnet and security group lookups in a region (the pool's start-up check)."""
        return TransitNetwork(self.clients.client("ec2", region))

    def endpoint_services(self, region: str) -> EndpointServices:
        """Where tenants' endpoint services run, as the platform may see them."""
        return EndpointServices(self.clients.client("ec2", region))

    def service_quotas(self, region: str) -> Any:
        """The Service Quotas client of a region (the endpoints-per-VPC quota)."""
        return self.clients.client("service-quotas", region)

    def endpoints_per_vpc(self, region: str) -> int:
        """A transit VPC's capacity when its config sets no maxEndpoints."""
        return self.endpoint_quotas.get(region, DEFAULT_ENDPOINTS_PER_VPC)

    def service_connections(self, region: str) -> ServiceConnections:
        """The platform service's connection requests in a region that offers inbound."""
        service_id = self.config.regions[region].inboundServiceId
        if service_id is None:
            raise KeyError(f"inbound is off in {region}")
        return ServiceConnections(self.clients.client("ec2", region), service_id)

    def kick_all(self, delay: float = 0.0) -> None:
        """Ask every region for an early pass (a quota changed: licenses are cluster-wide)."""
        for kick in self._kickers.values():
            kick(delay)

    def serves(self, region: str) -> bool:
        return region in self.config.regions

    def on_kick(self, region: str, kick: Callable[[float], None]) -> None:
        """Register the region reconciler that `kick(region)` wakes."""
        self._kickers[region] = kick

    def on_metering_kick(self, kick: Callable[[], None]) -> None:
        self._metering_kicker = kick

    def kick_metering(self) -> None:
        """Ask for a metering cycle now (the demo and tests move the clock)."""
        if self._metering_kicker is not None:
            self._metering_kicker()

    def kick(self, region: str, delay: float = 0.0) -> None:
        """Ask the region's reconciler for an early pass (no-op for unknown regions)."""
        kicker = self._kickers.get(region)
        if kicker is not None:
            kicker(delay)
