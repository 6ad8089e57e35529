"""moto's endpoint service and VPC endpoint with what PrivateLink needs: AWS-shaped
ids and DNS names, the owning service, the Availability Zones a service runs in (by
name and by AZ ID, as ServiceDetail in the EC2 API reference carries them), the
ClientToken fingerprint, the activation time, the filters DescribeVpcEndpoints
documents, and security groups that follow the EC2 API reference (they exist, sit in
the endpoint's VPC, at least one remains)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moto.ec2.exceptions import InvalidParameter, InvalidSecurityGroupNotFoundError
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
from moto.ec2.models.vpc_service_configuration import (
    VPCServiceConfiguration,
)
from moto.ec2.models.vpcs import VPCEndPoint
from moto.ec2.utils import random_private_ip, random_resource_id

from causeway.sandbox.aws.control import _CONTROL


def zone_id_of(region: str, zone_name: str) -> str:
    """The AZ ID of an AZ name of the region, from moto's own table (the one its
    DescribeAvailabilityZones answers from and that gives a subnet its
    AvailabilityZoneId). moto maps names to IDs alike in every account; AWS does not,
    which is why AZ IDs, not names, decide where a service and an endpoint meet."""
    for zone in RegionsAndZonesBackend.zones.get(region, []):
        if zone.name == zone_name:
            return str(zone.zone_id)
    raise ValueError(f"{zone_name!r} is not an Availability Zone of {region}")


class SandboxServiceConfiguration(VPCServiceConfiguration):
    """moto's endpoint service with AWS-shaped identifiers and the Availability Zones it
    runs in: those of its Network Load Balancer's subnets (moto records their names).
    An endpoint service is available only in the AZs of its load balancer (AWS
    PrivateLink guide, "Availability Zones" of endpoint services); DescribeVpcEndpoint-
    Services reports them as ServiceDetail.AvailabilityZones (names) and
    ServiceDetail.AvailabilityZoneIds (EC2 API reference)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.service_name.split(".")[3]
        # AWS service ids carry 17 hex digits; operator code validates that shape. A
        # fixture may ask for a known id (the demo's seed manifests name one).
        self.id = _CONTROL.take_service_id() or f"vpce-svc-{random_resource_id(17)}"
        self.service_name = f"com.amazonaws.vpce.{region}.{self.id}"
        self.endpoint_dns_name = f"{self.id}.{region}.vpce.amazonaws.com"
        self.service_region = region
        self.availability_zones = sorted(set(self.availability_zones))
        # moto keeps the names CreateVpcEndpointServiceConfiguration/ModifyVpcEndpoint-
        # ServiceConfiguration gave; the home Region is always supported (below).
        self._supported_region_names = [
            r for r in dict.fromkeys(self._supported_region_names or []) if r != region
        ]

    @property
    def supported_region_names(self) -> list[str]:
        """The Regions the service is offered to: its home Region first, then those its
        owner added with AddSupportedRegions (EC2 API reference: ServiceConfiguration
        SupportedRegions; PrivateLink guide, "Cross-Region access": the service is
        always available in its own Region)."""
        return [self.service_region, *self._supported_region_names]

    @property
    def supported_regions(self) -> list[dict[str, str]]:
        """ServiceConfiguration.SupportedRegions: SupportedRegionDetail items."""
        return [{"Region": r, "ServiceState": "Available"} for r in self.supported_region_names]

    @property
    def remote_access_enabled(self) -> bool:
        """ServiceConfiguration.RemoteAccessEnabled: whether any Region other than the
        home one may connect."""
        return bool(self._supported_region_names)

    def offered_to(self, region: str) -> bool:
        """Whether an endpoint in `region` may connect (its home, or a supported Region)."""
        return region in self.supported_region_names

    @property
    def availability_zone_ids(self) -> list[str]:
        """The AZ IDs of the service's AZs, sorted (ServiceDetail.AvailabilityZoneIds;
        also ServiceConfiguration.AvailabilityZoneIds for its owner)."""
        return sorted(zone_id_of(self.service_region, name) for name in self.availability_zones)

    def to_dict(self) -> dict[str, Any]:
        """The ServiceDetail of DescribeVpcEndpointServices (EC2 API reference):
        moto's, plus AvailabilityZoneIds, ServiceRegion and the service's Tags."""
        detail = super().to_dict()
        tags: dict[str, str] = self.ec2_backend.tags.get(self.id, {})
        detail.update(
            AvailabilityZones=list(self.availability_zones),
            AvailabilityZoneIds=self.availability_zone_ids,
            ServiceRegion=self.service_region,
            Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
        )
        return detail


class SandboxVpcEndpoint(VPCEndPoint):
    """moto's VPC endpoint plus what PrivateLink needs: owning service, connection id,
    the ClientToken fingerprint, and the filters DescribeVpcEndpoints documents."""

    service_id: str | None = None
    connection_id: str | None = None
    fingerprint: str | None = None
    # VpcEndpoint.ServiceRegion (EC2 API reference): the Region of the endpoint service,
    # which differs from the endpoint's own for a cross-Region endpoint.
    service_region: str | None = None
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

    @property
    def groups(self) -> list[dict[str, str]]:
        # moto's version scans every group of the account per id and fails on an id it
        # cannot resolve, which hid all of the endpoint's groups from DescribeVpcEndpoints.
        # AWS keeps an endpoint's groups in its own VPC, so look there first.
        found = []
        for group_id in self.security_group_ids:
            group = _security_group(self.ec2_backend, group_id, self.vpc_id)
            if group is not None:
                found.append({"GroupId": group.id, "GroupName": group.name})
        return found

    def modify(  # noqa: PLR0917 - moto calls it with these positional arguments
        self,
        policy_doc: str | None,
        add_subnets: list[str] | None,
        remove_subnets: list[str] | None,
        add_route_tables: list[str] | None,
        remove_route_tables: list[str] | None,
        add_security_groups: list[str] | None,
        remove_security_groups: list[str] | None,
    ) -> None:
        """ModifyVpcEndpoint; for an interface endpoint the groups change as AWS allows,
        checked before anything changes (AWS applies a modification whole or not at all;
        the subnets' Availability Zones are checked before this is called, see
        backend._modify_vpc_endpoint). An added subnet gets the endpoint's network
        interface and DNS name for its AZ; a removed one loses them."""
        interface = (self.vpc_endpoint_type or "").lower() == "interface"
        if interface:
            _check_groups(
                self.ec2_backend,
                self.vpc_id,
                add_security_groups or [],
                [
                    g
                    for g in self.security_group_ids + (add_security_groups or [])
                    if g not in (remove_security_groups or [])
                ],
            )
        super().modify(
            policy_doc,
            add_subnets,
            remove_subnets,
            add_route_tables,
            remove_route_tables,
            add_security_groups,
            remove_security_groups,
        )
        if interface and (add_subnets or remove_subnets):
            self._follow_subnets(add_subnets or [], remove_subnets or [])

    def _follow_subnets(self, added: list[str], removed: list[str]) -> None:
        """One network interface and one zonal DNS name per subnet, as at creation."""
        backend = self.ec2_backend
        kept = []
        for eni_id in self.network_interface_ids:
            eni = backend.enis.get(eni_id)
            if eni is not None and eni.subnet.id in removed:
                backend.enis.pop(eni_id, None)
            else:
                kept.append(eni_id)
        with_eni = {backend.enis[e].subnet.id for e in kept if e in backend.enis}
        for subnet_id in added:
            if subnet_id in (self.subnet_ids or []) and subnet_id not in with_eni:
                kept.append(backend.create_network_interface(subnet_id, random_private_ip()).id)
        self.network_interface_ids = kept
        if self.dns_entries:
            zones = [backend.get_subnet(s).availability_zone for s in self.subnet_ids or []]
            self.dns_entries = _zonal_dns_entries(self.dns_entries[0], zones)

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
    regional = {
        "DnsName": f"{suffix}.{service.id}.{region}.vpce.amazonaws.com",
        "HostedZoneId": random_resource_id(13).upper(),
    }
    return _zonal_dns_entries(regional, zones)


def _zonal_dns_entries(regional: dict[str, str], zones: Sequence[str]) -> list[dict[str, str]]:
    """The regional entry, then one per AZ name: the regional name with the zone
    appended to its first label (vpce-1-ab.svc... -> vpce-1-ab-us-east-1a.svc...)."""
    label, _, rest = regional["DnsName"].partition(".")
    zonal = [
        {"DnsName": f"{label}-{zone}.{rest}", "HostedZoneId": regional["HostedZoneId"]}
        for zone in zones
    ]
    return [regional, *zonal]


def _security_group(backend: Any, group_id: str, vpc_id: str | None) -> Any:
    """The group with this id: from the given VPC's groups first, else from any VPC's."""
    in_vpc = backend.groups.get(vpc_id, {}).get(group_id)
    return in_vpc if in_vpc is not None else backend.get_security_group_from_id(group_id)


def _check_groups(backend: Any, vpc_id: str, added: list[str], result: list[str]) -> None:
    """The groups of an interface endpoint, as EC2 checks them: each exists and belongs
    to the endpoint's VPC, and the endpoint keeps at least one (its network interfaces
    always have a group)."""
    for group_id in added:
        group = _security_group(backend, group_id, vpc_id)
        if group is None:
            raise InvalidSecurityGroupNotFoundError(group_id)
        if group.vpc_id != vpc_id:
            raise InvalidParameter(
                f"Security group {group_id} belongs to VPC {group.vpc_id}, not to the "
                f"endpoint's VPC {vpc_id}."
            )
    if not result:
        raise InvalidParameter("An interface VPC endpoint must keep at least one security group.")
