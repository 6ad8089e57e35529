"""Shared test data and fakes: a valid region entry of the operator config, a tenant
service name, and a Runtime with fake AWS and Kubernetes edges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from causeway.config import parse_config
from causeway.runtime import Runtime

SERVICE_NAME = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"

REGION_CONFIG = {
    "transitVpcId": "vpc-0a1b2c3d4e5f60718",
    "subnetIds": ["subnet-0a1b2c3d4e5f60718"],
    "securityGroupIds": ["sg-0a1b2c3d4e5f60718"],
    "platformPrincipal": "arn:aws:iam::111111111111:role/causeway-outbound",
    "inboundServiceId": "vpce-svc-0a1b2c3d4e5f60718",
    "sourceIpPool": "10.200.0.0/16",
    "blockedSecurityGroupId": "sg-0f1e2d3c4b5a69788",
}


class FakeRuntime(Runtime):
    """A Runtime whose AWS edge (`transit`) and Kubernetes edge (`kube`) are test fakes,
    with one region (us-east-1) and a fixed clock."""

    def __init__(self, transit: Any, kube: Any = None) -> None:
        super().__init__(
            config=parse_config({"regions": {"us-east-1": REGION_CONFIG}}),
            clients=None,  # type: ignore[arg-type]
            kube=kube,
            clock=lambda: datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
        )
        self.transit = transit

    def transit_endpoints(self, region: str) -> Any:
        return self.transit
