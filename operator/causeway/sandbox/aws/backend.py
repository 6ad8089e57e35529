"""The PrivateLink behaviour moto's EC2 backend lacks, modelled on the EC2 API
reference: service visibility (InvalidServiceName), ClientToken idempotency, the
endpoint's security groups (checked, or the VPC's default group), the Availability
Zones a service runs in (CreateVpcEndpoint and ModifyVpcEndpoint refuse a subnet
elsewhere, and two subnets in one AZ), DescribeVpcEndpointServices listing every
service the caller may use, pendingAcceptance, and the service owner's
Describe/Accept/RejectVpcEndpointConnections; and cross-Region PrivateLink (EC2 API
reference: CreateVpcEndpoint ServiceRegion, DescribeVpcEndpointServices ServiceRegions,
ServiceDetail and VpcEndpoint ServiceRegion, ServiceConfiguration SupportedRegions and
RemoteAccessEnabled; PrivateLink guide, "Cross-Region access" of endpoint services): an
endpoint in one Region to a service of another that lists it among its SupportedRegions;
and DeleteSecurityGroup refused (DependencyViolation) while an endpoint uses the group."""

from __future__ import annotations

import json
import time
from typing import Any, Final

from moto.ec2.exceptions import (
    DependencyViolationError,
    EC2ClientError,
    InvalidNextToken,
    InvalidParameter,
    InvalidServiceName,
)
from moto.ec2.models import ec2_backends
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.ec2.models.vpc_service_configuration import (
    VPCServiceConfiguration,
    VPCServiceConfigurationBackend,
)
from moto.ec2.models.vpcs import (
    MAX_NUMBER_OF_ENDPOINT_SERVICES_RESULTS,
    VPCBackend,
    VPCEndPoint,
)
from moto.ec2.utils import random_resource_id

from causeway.sandbox.aws.control import _CONTROL
from causeway.sandbox.aws.models import (
    SandboxServiceConfiguration,
    SandboxVpcEndpoint,
    _check_groups,
    _interface_dns_entries,
)


def _region_backends(backend: Any) -> list[Any]:
    """The EC2 backends of every account in this backend's region. Endpoint services are
    regional and cross-account in AWS: a tenant's endpoint (its account) connects to the
    platform's service (another account), and the service owner sees that connection."""
    return _backends_of_region(backend.region_name)


def _backends_of_region(region: str) -> list[Any]:
    """The EC2 backends of every account in `region`."""
    return [b for _, name, b in ec2_backends.iter_backends() if name == region]


def _all_backends() -> list[Any]:
    """The EC2 backends of every account in every Region."""
    return [b for _, _, b in ec2_backends.iter_backends()]


def _find_service_by_name(
    backend: Any, service_name: str, region: str | None = None
) -> VPCServiceConfiguration | None:
    """The service of that name homed in `region` (default: the caller's Region)."""
    for candidate in _backends_of_region(region or backend.region_name):
        configs: dict[str, VPCServiceConfiguration] = candidate.configurations
        found = next((c for c in configs.values() if c.service_name == service_name), None)
        if found is not None:
            return found
    return None


def _is_customer_service_name(service_name: str) -> bool:
    """AWS-managed names (com.amazonaws.<region>.s3) stay with moto's defaults."""
    return service_name.startswith("com.amazonaws.vpce.") or not service_name.startswith(
        "com.amazonaws."
    )


def _caller_may_see(service: VPCServiceConfiguration, caller: Any) -> bool:
    """Whether the caller may connect to the service.

    Calls from moto's default account are the platform's (the operator, and the
    outbound tenant services, which the sandbox keeps in that account too): with no
    principal configured the caller owns the service and always sees it; otherwise
    AWS's rules for another account apply to the configured platform principal: the
    exact ARN, "*", or the account's root ARN; no permissions means not visible. A
    call from any other account (a tenant connecting inbound) is checked as that
    account's root.
    """
    if caller.account_id != service.ec2_backend.account_id:
        account = caller.account_id
        return bool({"*", f"arn:aws:iam::{account}:root"}.intersection(service.principals))
    principal = _CONTROL.platform_principal
    if principal is None:
        return True
    account = principal.split(":")[4]
    accepted = {principal, "*", f"arn:aws:iam::{account}:root"}
    return bool(accepted.intersection(service.principals))


def _offered_to(service: VPCServiceConfiguration, region: str) -> bool:
    """Whether an endpoint in `region` may connect to the service: its home Region, or
    one of its SupportedRegions (EC2 API reference: ServiceConfiguration
    SupportedRegions, ModifyVpcEndpointServiceConfiguration AddSupportedRegions)."""
    if isinstance(service, SandboxServiceConfiguration):
        return service.offered_to(region)
    return bool(region == service.ec2_backend.region_name)


def _canonical(value: Any) -> Any:
    """Order-insensitive form of request parameters, for ClientToken comparison."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple | set):
        return sorted((_canonical(v) for v in value), key=repr)
    return value


def _fingerprint(kwargs: dict[str, Any]) -> str:
    params = {k: v for k, v in kwargs.items() if k != "client_token"}
    return json.dumps(_canonical(params), sort_keys=True, default=str)


def _find_by_client_token(backend: Any, token: str) -> SandboxVpcEndpoint | None:
    """The endpoint this backend created with the token (indexed: a scan of every
    endpoint per create made N creates cost O(N^2))."""
    with _CONTROL.lock:
        endpoint = _CONTROL.endpoints_by_token.get(token)
    if not isinstance(endpoint, SandboxVpcEndpoint):
        return None
    return endpoint if backend.vpc_end_points.get(endpoint.id) is endpoint else None


_original_create_vpc_endpoint = VPCBackend.create_vpc_endpoint


def _create_vpc_endpoint(backend: Any, **kwargs: Any) -> VPCEndPoint:
    """CreateVpcEndpoint as AWS documents it, wrapped around moto's implementation."""
    service_name: str = kwargs["service_name"]
    requested_region: str | None = kwargs.pop("service_region", None)
    endpoint_type: str = kwargs.get("endpoint_type") or "Gateway"
    if endpoint_type.lower() != "interface" or not _is_customer_service_name(service_name):
        return _original_create_vpc_endpoint(backend, **kwargs)

    service_region: str = requested_region or backend.region_name
    service = _find_service_by_name(backend, service_name, service_region)
    if (
        service is None
        or not _caller_may_see(service, backend)
        or not _offered_to(service, backend.region_name)
    ):
        # AWS does not distinguish "missing" from "not allowed" here; nor, for a
        # service of another Region, from one not offered to the caller's Region.
        raise InvalidServiceName(service_name)
    cross_region = service_region != backend.region_name

    token: str | None = kwargs.get("client_token")
    fingerprint = _fingerprint({**kwargs, "service_region": service_region})
    if token:
        existing = _find_by_client_token(backend, token)
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise EC2ClientError(
                    "IdempotentParameterMismatch",
                    "The request uses the same client token as a previous, "
                    "but non-identical request.",
                )
            return existing

    backend.get_vpc(kwargs["vpc_id"])  # InvalidVpcID.NotFound before the groups are looked at
    _check_zones(backend, service, kwargs.get("subnet_ids") or [], cross_region=cross_region)
    _check_room(backend, kwargs["vpc_id"], kwargs.get("subnet_ids") or [])
    groups: list[str] = kwargs.get("security_group_ids") or []
    if groups:
        _check_groups(backend, kwargs["vpc_id"], groups, groups)
    else:
        # Without SecurityGroupIds, AWS gives the endpoint its VPC's default security group.
        default = backend.get_default_security_group(kwargs["vpc_id"])
        if default is not None:
            kwargs = {**kwargs, "security_group_ids": [default.id]}
    endpoint = _original_create_vpc_endpoint(backend, **kwargs)
    assert isinstance(endpoint, SandboxVpcEndpoint)  # install() swapped the class
    _rename(backend, endpoint, _CONTROL.take_endpoint_id())
    zones = [backend.get_subnet(s).availability_zone for s in endpoint.subnet_ids or []]
    endpoint.dns_entries = _interface_dns_entries(endpoint.id, service, zones)
    endpoint.service_id = service.id
    endpoint.service_region = service_region
    endpoint.connection_id = f"vpce-con-{random_resource_id(17)}"
    endpoint.fingerprint = fingerprint
    endpoint.state = "pendingAcceptance" if service.acceptance_required else "available"
    with _CONTROL.lock:
        _CONTROL.endpoints_by_vpc.setdefault(endpoint.vpc_id, []).append(endpoint)
        if token:
            _CONTROL.endpoints_by_token[token] = endpoint
    return endpoint


def _check_zones(
    backend: Any,
    service: VPCServiceConfiguration,
    subnet_ids: list[str],
    existing: list[str] | None = None,
    *,
    cross_region: bool = False,
) -> None:
    """The subnets of an interface endpoint, as CreateVpcEndpoint and ModifyVpcEndpoint
    (AddSubnetIds) check them in AWS: at most one subnet per Availability Zone, and
    only in AZs where the service is available, those of its Network Load Balancer
    (EC2 API reference: CreateVpcEndpoint/ModifyVpcEndpoint SubnetIds, ServiceDetail
    AvailabilityZones/AvailabilityZoneIds, error code DuplicateSubnetsInSameZone;
    PrivateLink guide and AWS Knowledge Center "interface-endpoint-availability-zone":
    an endpoint can only be in the NLB's enabled AZs; AZ names map differently per
    account, AZ IDs do not, so IDs decide here). The wordings are AWS's as answered to
    users (terraform, CloudFormation and SDK error reports): InvalidParameter "The VPC
    endpoint service <name> does not support the availability zone of the subnet:
    <subnet>." and DuplicateSubnetsInSameZone "Found another VPC endpoint subnet in the
    availability zone of <subnet>. VPC endpoint subnets should be in different
    availability zones supported by the VPC endpoint service." (the sandbox names the
    subnet that was there first). AZ support is checked for every subnet before
    duplicates. `existing`: the endpoint's subnets that stay (ModifyVpcEndpoint).

    `cross_region`: the endpoint is in another Region than the service (CreateVpcEndpoint
    ServiceRegion), whose AZs are not the endpoint's: the service's AZs do not bind its
    subnets (AWS carries the traffic between Regions), one subnet per AZ still does.
    Whatever AZ limits AWS sets for cross-Region endpoints are not modelled: the
    documentation found does not state them."""
    supported = set(getattr(service, "availability_zone_ids", ()))
    for subnet_id in [] if cross_region else subnet_ids:
        if backend.get_subnet(subnet_id).availability_zone_id not in supported:
            raise InvalidParameter(
                f"The VPC endpoint service {service.service_name} does not support the "
                f"availability zone of the subnet: {subnet_id}."
            )
    first_in_zone: dict[str, str] = {}
    for subnet_id in [*(existing or []), *subnet_ids]:
        zone_id = backend.get_subnet(subnet_id).availability_zone_id
        other = first_in_zone.setdefault(zone_id, subnet_id)
        if other != subnet_id:
            raise EC2ClientError(
                "DuplicateSubnetsInSameZone",
                f"Found another VPC endpoint subnet in the availability zone of {other}. "
                "VPC endpoint subnets should be in different availability zones supported "
                "by the VPC endpoint service.",
            )


_original_delete_security_group = SecurityGroupBackend.delete_security_group


def _delete_security_group(
    backend: Any, name: str | None = None, group_id: str | None = None
) -> None:
    """DeleteSecurityGroup (EC2 API reference): AWS refuses with DependencyViolation
    while the group is associated with a network interface, which an interface
    endpoint's groups are until the endpoint is deleted. moto deletes it regardless."""
    if group_id:
        for endpoint in backend.vpc_end_points.values():
            if group_id in (endpoint.security_group_ids or []) and endpoint.state != "deleted":
                raise DependencyViolationError(f"resource {group_id} has a dependent object")
    _original_delete_security_group(backend, name=name, group_id=group_id)


_original_modify_vpc_endpoint = VPCBackend.modify_vpc_endpoint


def _modify_vpc_endpoint(backend: Any, **kwargs: Any) -> None:
    """ModifyVpcEndpoint (EC2 API reference): AddSubnetIds on an interface endpoint to
    a customer service is checked as CreateVpcEndpoint checks its subnets, against the
    subnets the endpoint keeps too, before anything changes; moto's implementation then
    applies the change (SandboxVpcEndpoint.modify)."""
    endpoint = backend.get_vpc_end_point(kwargs["vpc_id"])  # InvalidVpcEndpointId.NotFound
    added: list[str] = kwargs.get("add_subnets") or []
    if isinstance(endpoint, SandboxVpcEndpoint) and endpoint.service_id and added:
        service_region = endpoint.service_region or backend.region_name
        service = _find_service_by_name(backend, endpoint.service_name, service_region)
        if service is not None:
            removed: list[str] = kwargs.get("remove_subnets") or []
            kept = [s for s in endpoint.subnet_ids or [] if s not in removed]
            _check_zones(
                backend,
                service,
                [s for s in added if s not in kept],
                kept,
                cross_region=service_region != backend.region_name,
            )
    _original_modify_vpc_endpoint(backend, **kwargs)


_original_modify_service_configuration = (
    VPCServiceConfigurationBackend.modify_vpc_endpoint_service_configuration
)


def _modify_vpc_endpoint_service_configuration(
    backend: Any, service_id: str, **kwargs: Any
) -> None:
    """ModifyVpcEndpointServiceConfiguration AddSupportedRegions/RemoveSupportedRegions
    (EC2 API reference) checked before anything changes: the home Region cannot be
    removed, nor a Region the service does not list (moto failed with a server error);
    a Region already listed is not listed twice. The wording is the sandbox's: AWS's
    answer to these requests is not documented."""
    config = backend.describe_vpc_endpoint_service_configurations([service_id])[0]
    if isinstance(config, SandboxServiceConfiguration):
        listed = config.supported_region_names
        for region in kwargs.get("remove_supported_regions") or []:
            if region == config.service_region or region not in listed:
                raise EC2ClientError(
                    "InvalidParameterValue",
                    f"Region {region} cannot be removed from the supported Regions of "
                    f"{service_id}: its supported Regions are {', '.join(listed)}.",
                )
        kwargs["add_supported_regions"] = [
            r for r in dict.fromkeys(kwargs.get("add_supported_regions") or []) if r not in listed
        ]
    _original_modify_service_configuration(backend, service_id, **kwargs)


def _describe_vpc_endpoint_services(  # noqa: PLR0917 - moto's signature
    backend: Any,
    service_names: list[str],
    filters: Any,
    max_results: int,
    next_token: str | None,
    region: str,
    service_regions: list[str] | None = None,
) -> dict[str, Any]:
    """DescribeVpcEndpointServices as the EC2 API reference describes it: the AWS
    services of the Region (moto's defaults) and every endpoint service of the Region,
    whichever account owns it, that the caller may use (_caller_may_see: moto lists
    only the caller's own). Each ServiceDetail carries AvailabilityZones,
    AvailabilityZoneIds and ServiceRegion. A name in ServiceNames that the caller may
    not see is answered as one that does not exist: InvalidServiceName. Paged as moto
    pages (NextToken is the ServiceId of the next item).

    `service_regions` (ServiceRegions): the Regions whose services are described,
    default the caller's. A service of another Region is described (ServiceRegion its
    home) only when it lists the caller's Region among its SupportedRegions
    (PrivateLink guide, cross-Region connectivity); otherwise its name is answered
    InvalidServiceName, as for a service the caller may not see."""
    regions = list(dict.fromkeys(service_regions or [region]))
    defaults: list[dict[str, Any]] = (
        backend._collect_default_endpoint_services(backend.account_id, region)
        if region in regions
        else []
    )
    wanted = set(service_names)  # only the named ones are built (thousands may exist)
    custom = [
        service.to_dict()
        for home in regions
        for candidate in _backends_of_region(home)
        for service in candidate.configurations.values()
        if isinstance(service, SandboxServiceConfiguration)
        and (not wanted or service.service_name in wanted)
        and _caller_may_see(service, backend)
        and service.offered_to(region)
    ]
    services = defaults + custom
    known = {s["ServiceName"] for s in services}
    for service_name in service_names:
        if service_name not in known:
            raise InvalidServiceName(service_name)
    # moto's filter code reads a filter's values from "Value" but its response hands it
    # the request's "Values" (a service-name filter failed with a 500): give it both.
    filters = [
        {**f, "Value": f.get("Values") or f.get("Value") or [], "Values": f.get("Values") or []}
        for f in filters or []
    ]
    matching = sorted(
        VPCBackend._filter_endpoint_services(service_names, filters, services),
        key=lambda s: str(s["ServiceName"]),
    )
    ids = [s["ServiceId"] for s in matching]
    start = 0
    if next_token:
        if next_token not in ids:
            raise InvalidNextToken(next_token)
        start = ids.index(next_token)
    size = min(
        max_results or MAX_NUMBER_OF_ENDPOINT_SERVICES_RESULTS,
        MAX_NUMBER_OF_ENDPOINT_SERVICES_RESULTS,
    )
    page = matching[start : start + size]
    return {
        "servicesDetails": page,
        "serviceNames": [s["ServiceName"] for s in page],
        "nextToken": ids[start + size] if len(matching) > start + size else None,
    }


_ENDPOINTS_PER_VPC = ("vpc", "L-29B6F2EB")


def _get_service_quota(original: Any) -> Any:
    """GetServiceQuota answering the endpoints-per-VPC quota the sandbox enforces (as
    AWS answers the account's applied value), moto's defaults for every other quota."""

    def get_service_quota(backend: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        quota = dict(original(backend, service_code, quota_code))
        if (service_code, quota_code) == _ENDPOINTS_PER_VPC:
            with _CONTROL.lock:
                quota["Value"] = float(_CONTROL.endpoints_per_vpc)
        return quota

    return get_service_quota


def _check_room(backend: Any, vpc_id: str, subnet_ids: list[str]) -> None:
    """AWS refuses an interface endpoint past the VPC's quota "Interface and Gateway Load
    Balancer endpoints per VPC" (VpcEndpointLimitExceeded; a deleted endpoint no longer
    counts), and in a subnet with no free address: each interface endpoint takes one
    address in each of its subnets (InsufficientFreeAddressesInSubnet). A subnet's free
    addresses are its size less AWS's 5 reserved and those of the region's endpoints
    in it (the sandbox's transit subnets hold nothing else)."""
    with _CONTROL.lock:
        in_vpc = [e for e in _CONTROL.endpoints_by_vpc.get(vpc_id, []) if e.state != "deleted"]
    if len(in_vpc) >= _CONTROL.endpoint_quota(vpc_id):
        raise EC2ClientError(
            "VpcEndpointLimitExceeded",
            f"The maximum number of VPC endpoints for {vpc_id} has been reached.",
        )
    for subnet_id in subnet_ids:
        subnet = backend.get_subnet(subnet_id)
        taken = sum(1 for e in in_vpc if subnet_id in (e.subnet_ids or []))
        if subnet.cidr.num_addresses - 5 - taken < 1:
            raise EC2ClientError(
                "InsufficientFreeAddressesInSubnet",
                f"Insufficient free IP addresses in subnet {subnet_id} to create the endpoint.",
            )


def _rename(backend: Any, endpoint: SandboxVpcEndpoint, known_id: str | None) -> None:
    """Give a new endpoint the id a fixture asked for (a seed manifest names it)."""
    if known_id is None:
        return
    backend.vpc_end_points.pop(endpoint.id)
    tags = backend.tags.pop(endpoint.id, None)
    endpoint.id = known_id
    backend.vpc_end_points[known_id] = endpoint
    if tags is not None:
        backend.tags[known_id] = tags


def _service_endpoints(backend: Any, service_id: str) -> list[SandboxVpcEndpoint]:
    """Every endpoint connected to the service, whichever account created it and in
    whichever Region (a cross-Region endpoint lives in its own Region)."""
    return [
        e
        for candidate in _all_backends()
        for e in candidate.vpc_end_points.values()
        if isinstance(e, SandboxVpcEndpoint) and e.service_id == service_id
    ]


def _connection(backend: Any, endpoint: SandboxVpcEndpoint) -> dict[str, Any]:
    """One VpcEndpointConnection as the service owner sees it."""
    service = backend.configurations.get(endpoint.service_id)
    return {
        "ServiceId": endpoint.service_id,
        "VpcEndpointId": endpoint.id,
        "VpcEndpointOwner": endpoint.owner_id,
        "VpcEndpointState": endpoint.state,
        "CreationTimestamp": endpoint.creation_timestamp,
        "DnsEntries": endpoint.dns_entries,
        "NetworkLoadBalancerArns": list(service.network_load_balancer_arns) if service else [],
        "IpAddressType": "ipv4",
        "VpcEndpointConnectionId": endpoint.connection_id,
        "VpcEndpointRegion": endpoint.ec2_backend.region_name,
    }


_CONNECTION_FILTERS: Final = {
    "service-id": "ServiceId",
    "vpc-endpoint-id": "VpcEndpointId",
    "vpc-endpoint-owner": "VpcEndpointOwner",
    "vpc-endpoint-state": "VpcEndpointState",
}


def _describe_vpc_endpoint_connections(
    backend: Any, filters: dict[str, Any]
) -> list[dict[str, Any]]:
    unknown = set(filters) - set(_CONNECTION_FILTERS)
    if unknown:
        raise EC2ClientError(
            "InvalidParameterValue", f"The filter '{sorted(unknown)[0]}' is invalid"
        )
    configs: dict[str, VPCServiceConfiguration] = backend.configurations
    connections = [
        _connection(backend, e) for sid in configs for e in _service_endpoints(backend, sid)
    ]
    return [
        c
        for c in connections
        if all(str(c[_CONNECTION_FILTERS[name]]) in values for name, values in filters.items())
    ]


def _unsuccessful(resource_id: str, code: str, message: str) -> dict[str, Any]:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


def _transition_connections(
    backend: Any, service_id: str, endpoint_ids: list[str], target: str, allowed_from: set[str]
) -> list[dict[str, Any]]:
    """Move endpoints of one service to ``target``; return AWS-style Unsuccessful items."""
    backend.describe_vpc_endpoint_service_configurations([service_id])  # NotFound if unknown
    mine = {e.id: e for e in _service_endpoints(backend, service_id)}
    failures = []
    for endpoint_id in endpoint_ids:
        endpoint = mine.get(endpoint_id)
        if endpoint is None:
            failures.append(
                _unsuccessful(
                    endpoint_id,
                    "InvalidVpcEndpointId.NotFound",
                    f"The Vpc Endpoint Id '{endpoint_id}' does not exist",
                )
            )
        elif endpoint.state not in allowed_from:
            failures.append(
                _unsuccessful(
                    endpoint_id,
                    "InvalidState",
                    f"Vpc Endpoint {endpoint_id} is in state {endpoint.state}",
                )
            )
        else:
            endpoint.state = target
            if target == "pending":
                endpoint.activate_at = time.monotonic() + _CONTROL.activation_seconds
    return failures


def _activate_due(backend: Any) -> None:
    """Accepted endpoints become available once their activation time has passed (AWS
    shows them as pending for a while after the service owner accepts)."""
    now = time.monotonic()
    # Every Region's: the owner of a service accepts in its Region, a cross-Region
    # endpoint lives in another.
    del backend
    endpoints = [e for b in _all_backends() for e in list(b.vpc_end_points.values())]
    for endpoint in endpoints:
        due = getattr(endpoint, "activate_at", None)
        if due is not None and endpoint.state == "pending" and now >= due:
            endpoint.state = "available"
            endpoint.activate_at = None


def _accept_vpc_endpoint_connections(
    backend: Any, service_id: str, endpoint_ids: list[str]
) -> list[dict[str, Any]]:
    # AWS passes through a short "pending" before "available"; the sandbox skips it.
    return _transition_connections(
        backend, service_id, endpoint_ids, "pending", {"pendingAcceptance"}
    )


def _reject_vpc_endpoint_connections(
    backend: Any, service_id: str, endpoint_ids: list[str]
) -> list[dict[str, Any]]:
    # Service owners may reject pending and already accepted connections alike.
    return _transition_connections(
        backend, service_id, endpoint_ids, "rejected", {"pendingAcceptance", "available"}
    )
