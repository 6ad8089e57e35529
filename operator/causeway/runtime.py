"""What every controller needs at run time: the config, AWS clients per region,
the Kubernetes status writer, the object index and the clock. Built once by the
operator and handed to controllers, so tests can swap any part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from causeway.aws.endpoints import TransitEndpoints
from causeway.aws.session import ClientFactory
from causeway.config import OperatorConfig
from causeway.index import ConnectionIndex
from causeway.kube import KubeApi
from causeway.listings import RegionListings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    config: OperatorConfig
    clients: ClientFactory
    kube: KubeApi
    clock: Clock = utc_now
    outbound_index: ConnectionIndex = field(default_factory=ConnectionIndex)
    listings: RegionListings = field(init=False)

    def __post_init__(self) -> None:
        self.listings = RegionListings(lambda region: self.transit_endpoints(region).all_managed())

    def transit_endpoints(self, region: str) -> TransitEndpoints:
        """The endpoint API for a region that is in the config (KeyError otherwise)."""
        return TransitEndpoints(self.clients.client("ec2", region), self.config.regions[region])
