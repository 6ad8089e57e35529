"""moto's endpoint service and VPC endpoint with what PrivateLink needs: AWS-shaped
ids and DNS names, the owning service, the ClientToken fingerprint, the activation
time, and the filters DescribeVpcEndpoints documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moto.ec2.models.vpc_service_configuration import (
    VPCServiceConfiguration,
)
from moto.ec2.models.vpcs import VPCEndPoint
from moto.ec2.utils import random_resource_id

from causeway.sandbox.aws.control import _CONTROL


class SandboxServiceConfiguration(VPCServiceConfiguration):
    """moto's endpoint service with AWS-shaped identifiers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.service_name.split(".")[3]
        # AWS service ids carry 17 hex digits; operator code validates that shape. A
        # fixture may ask for a known id (the demo's seed manifests name one).
        self.id = _CONTROL.take_service_id() or f"vpce-svc-{random_resource_id(17)}"
        self.service_name = f"com.amazonaws.vpce.{region}.{self.id}"
        self.endpoint_dns_name = f"{self.id}.{region}.vpce.amazonaws.com"


class SandboxVpcEndpoint(VPCEndPoint):
    """moto's VPC endpoint plus what PrivateLink needs: owning service, connection id,
    the ClientToken fingerprint, and the filters DescribeVpcEndpoints documents."""

    service_id: str | None = None
    connection_id: str | None = None
    fingerprint: str | None = None
    activate_at: float | None = None  # monotonic time an accepted endpoint becomes available

    @property
    def vpc_endpoint_id(self) -> str:
        return self.id

    def get_tags(self) -> list[dict[str, str]]:
        # moto's version asks the tag backend to regex-match every tag of every resource
        # for this one id, so describing or tag-filtering N endpoints cost O(N x all tags)
        # and made 1,000 endpoints take minutes; the backend keeps tags by id, so look up.
        tags: dict[str, str] = self.ec2_backend.tags.get(self.id, {})
        return [
            {"resource_id": self.id, "key": key, "value": value, "resource_type": "vpc-endpoint"}
            for key, value in tags.items()
        ]

    def get_filter_value(self, filter_name: str, method_name: str | None = None) -> Any:
        if filter_name == "vpc-endpoint-id":
            return self.id
        if filter_name == "service-name":
            return self.service_name
        if filter_name == "vpc-id":
            return self.vpc_id
        return super().get_filter_value(filter_name, method_name)


def _interface_dns_entries(
    endpoint_id: str, service: VPCServiceConfiguration, zones: Sequence[str]
) -> list[dict[str, str]]:
    """Regional name first, then one name per AZ, as AWS lists them."""
    region = service.service_name.split(".")[3]
    suffix = f"{endpoint_id}-{random_resource_id(8)}"
    zone_id = random_resource_id(13).upper()
    names = [f"{suffix}.{service.id}.{region}.vpce.amazonaws.com"]
    names += [f"{suffix}-{zone}.{service.id}.{region}.vpce.amazonaws.com" for zone in zones]
    return [{"DnsName": name, "HostedZoneId": zone_id} for name in names]
