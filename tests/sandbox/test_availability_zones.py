"""The sandbox enforces where an endpoint service runs, as AWS does: an interface
endpoint only in subnets of the service's Availability Zones (by AZ ID), one subnet per
AZ, on create and on ModifyVpcEndpoint AddSubnetIds; DescribeVpcEndpointServices shows
every service the caller may use with its AZ names and IDs. Real boto3 calls."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from causeway.sandbox.aws import AwsSandbox, TenantService

REGION = "us-east-1"
A, B, C, D = (f"{REGION}{letter}" for letter in "abcd")
TENANT_ACCOUNT = "333344445555"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


@pytest.fixture(scope="module")
def ec2(sandbox: AwsSandbox) -> Any:
    return sandbox.client("ec2", config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def transit(sandbox: AwsSandbox) -> dict[str, Any]:
    """A transit VPC in a, b and c (the default)."""
    return sandbox.create_transit_vpc(REGION)


@pytest.fixture(scope="module")
def two_zone_service(sandbox: AwsSandbox) -> TenantService:
    return sandbox.create_tenant_service(REGION, acceptance_required=False, zones=[A, B])


def _create(
    ec2: Any, transit: dict[str, Any], service: TenantService, subnets: list[str], **extra: Any
) -> dict[str, Any]:
    endpoint: dict[str, Any] = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=transit["vpcId"],
        ServiceName=service.service_name,
        SubnetIds=subnets,
        SecurityGroupIds=transit["securityGroupIds"],
        **extra,
    )["VpcEndpoint"]
    return endpoint


def _refusal(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def _not_supported(service: TenantService, subnet_id: str) -> tuple[str, str]:
    return (
        "InvalidParameter",
        f"The VPC endpoint service {service.service_name} does not support the "
        f"availability zone of the subnet: {subnet_id}.",
    )


def _duplicate(subnet_id: str) -> tuple[str, str]:
    return (
        "DuplicateSubnetsInSameZone",
        f"Found another VPC endpoint subnet in the availability zone of {subnet_id}. "
        "VPC endpoint subnets should be in different availability zones supported by the "
        "VPC endpoint service.",
    )


_extra_blocks = itertools.count(200)


def _free_cidr(ec2: Any, vpc_id: str) -> str:
    """A /28 of the VPC's /16 that the fixtures' subnets (x.y.1-6.0) leave free."""
    vpc_cidr = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"]
    first_two = ".".join(vpc_cidr.split(".")[:2])
    return f"{first_two}.{next(_extra_blocks)}.0/28"


def _subnet_in(ec2: Any, vpc_id: str, zone: str) -> str:
    subnet_id: str = ec2.create_subnet(
        VpcId=vpc_id, CidrBlock=_free_cidr(ec2, vpc_id), AvailabilityZone=zone
    )["Subnet"]["SubnetId"]
    return subnet_id


# ------------------------------------------------------------------------- fixtures


def test_zone_id_is_the_one_subnets_report(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    subnets = ec2.describe_subnets(SubnetIds=transit["subnetIds"])["Subnets"]
    assert {s["AvailabilityZone"] for s in subnets} == {A, B, C}
    for subnet in subnets:
        assert sandbox.zone_id(subnet["AvailabilityZone"]) == subnet["AvailabilityZoneId"]
    zones = ec2.describe_availability_zones(ZoneNames=[A, D])["AvailabilityZones"]
    assert {z["ZoneName"]: z["ZoneId"] for z in zones} == {
        A: sandbox.zone_id(A),
        D: sandbox.zone_id(D, REGION),
    }
    assert sandbox.zone_id("eu-west-1a", "eu-west-1").startswith("euw1-az")
    with pytest.raises(ValueError, match="not an Availability Zone"):
        sandbox.zone_id("eu-west-1a")


def test_transit_vpc_has_one_subnet_per_zone_given(sandbox: AwsSandbox, ec2: Any) -> None:
    transit = sandbox.create_transit_vpc(REGION, zones=[B, D])
    subnets = ec2.describe_subnets(SubnetIds=transit["subnetIds"])["Subnets"]
    by_id = {s["SubnetId"]: s["AvailabilityZone"] for s in subnets}
    assert [by_id[s] for s in transit["subnetIds"]] == [B, D]
    assert all(s["VpcId"] == transit["vpcId"] for s in subnets)


@pytest.mark.parametrize("zones", [[], [A, A], ["eu-west-1a"]])
def test_fixture_zones_must_be_distinct_zones_of_the_region(
    sandbox: AwsSandbox, zones: list[str]
) -> None:
    with pytest.raises(ValueError):
        sandbox.create_transit_vpc(REGION, zones=zones)
    with pytest.raises(ValueError):
        sandbox.create_tenant_service(REGION, zones=zones)


# ------------------------------------------------------------------------- CreateVpcEndpoint


def test_service_in_two_zones_accepts_an_endpoint_in_those_two(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any], two_zone_service: TenantService
) -> None:
    subnets_ab = transit["subnetIds"][:2]
    endpoint = _create(ec2, transit, two_zone_service, subnets_ab)
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    assert sorted(described["VpcEndpoints"][0]["SubnetIds"]) == sorted(subnets_ab)
    names = [e["DnsName"] for e in described["VpcEndpoints"][0]["DnsEntries"]]
    assert len(names) == 3  # regional, then one per AZ
    assert [n for n in names if f"-{A}." in n or f"-{B}." in n] == names[1:]


def test_service_in_two_zones_refuses_an_endpoint_in_all_three(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any], two_zone_service: TenantService
) -> None:
    before = len(ec2.describe_vpc_endpoints()["VpcEndpoints"])
    with pytest.raises(ClientError) as exc:
        _create(ec2, transit, two_zone_service, transit["subnetIds"])
    assert _refusal(exc) == _not_supported(two_zone_service, transit["subnetIds"][2])
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == before  # nothing made


def test_zones_are_compared_by_id(
    sandbox: AwsSandbox, ec2: Any, two_zone_service: TenantService
) -> None:
    """A subnet created by AZ ID in one of the service's AZs is accepted."""
    transit = sandbox.create_transit_vpc(REGION, zones=[C])
    subnet = ec2.create_subnet(
        VpcId=transit["vpcId"],
        CidrBlock=_free_cidr(ec2, transit["vpcId"]),
        AvailabilityZoneId=sandbox.zone_id(B),
    )["Subnet"]
    with pytest.raises(ClientError):  # only "c" so far
        _create(ec2, transit, two_zone_service, transit["subnetIds"])
    assert _create(ec2, transit, two_zone_service, [subnet["SubnetId"]])["VpcEndpointId"]


def test_two_subnets_in_one_zone_are_refused(
    sandbox: AwsSandbox, ec2: Any, two_zone_service: TenantService
) -> None:
    transit = sandbox.create_transit_vpc(REGION, zones=[A, B])
    second_in_a = _subnet_in(ec2, transit["vpcId"], A)
    with pytest.raises(ClientError) as exc:
        _create(ec2, transit, two_zone_service, [*transit["subnetIds"], second_in_a])
    assert _refusal(exc) == _duplicate(transit["subnetIds"][0])


def test_client_token_replay_returns_the_endpoint_before_zones_are_checked(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    service = sandbox.create_tenant_service(REGION, acceptance_required=False, zones=[A, B])
    subnets = transit["subnetIds"][:2]
    first = _create(ec2, transit, service, subnets, ClientToken="az-replay")
    again = _create(ec2, transit, service, subnets, ClientToken="az-replay")
    assert again["VpcEndpointId"] == first["VpcEndpointId"]


def test_invisible_service_is_refused_before_zones_are_checked(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    hidden = sandbox.create_tenant_service(REGION, allow_platform=False, zones=[A])
    with pytest.raises(ClientError) as exc:
        _create(ec2, transit, hidden, transit["subnetIds"])
    assert _refusal(exc)[0] == "InvalidServiceName"


def test_default_zones_keep_todays_behaviour(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    service = sandbox.create_tenant_service(REGION, acceptance_required=False)
    endpoint = _create(ec2, transit, service, transit["subnetIds"])
    assert sorted(endpoint["SubnetIds"]) == sorted(transit["subnetIds"])


# ------------------------------------------------------------------------- ModifyVpcEndpoint


def test_add_subnet_in_an_unsupported_zone_is_refused(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any], two_zone_service: TenantService
) -> None:
    endpoint = _create(ec2, transit, two_zone_service, transit["subnetIds"][:1])
    vpce = endpoint["VpcEndpointId"]
    with pytest.raises(ClientError) as exc:
        ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddSubnetIds=transit["subnetIds"][1:])
    assert _refusal(exc) == _not_supported(two_zone_service, transit["subnetIds"][2])
    # Nothing changed, not even the supported subnet of the same request.
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert described["SubnetIds"] == transit["subnetIds"][:1]


def test_add_subnet_in_a_supported_zone_extends_the_endpoint(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any], two_zone_service: TenantService
) -> None:
    endpoint = _create(ec2, transit, two_zone_service, transit["subnetIds"][:1])
    vpce = endpoint["VpcEndpointId"]
    assert len(endpoint["DnsEntries"]) == 2
    assert len(endpoint["NetworkInterfaceIds"]) == 1
    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddSubnetIds=[transit["subnetIds"][1]])
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert described["SubnetIds"] == transit["subnetIds"][:2]
    assert len(described["NetworkInterfaceIds"]) == 2
    entries = described["DnsEntries"]
    assert entries[0] == endpoint["DnsEntries"][0]  # the regional name stays
    assert entries[1] == endpoint["DnsEntries"][1]
    assert f"-{B}." in entries[2]["DnsName"]
    assert len(entries) == 3


def test_add_subnet_in_a_zone_the_endpoint_has_is_refused(
    sandbox: AwsSandbox, ec2: Any, two_zone_service: TenantService
) -> None:
    transit = sandbox.create_transit_vpc(REGION, zones=[A, B])
    second_in_a = _subnet_in(ec2, transit["vpcId"], A)
    vpce = _create(ec2, transit, two_zone_service, transit["subnetIds"])["VpcEndpointId"]
    with pytest.raises(ClientError) as exc:
        ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddSubnetIds=[second_in_a])
    assert _refusal(exc) == _duplicate(transit["subnetIds"][0])
    # Swapping the AZ's subnet in one request is allowed: the old one goes.
    ec2.modify_vpc_endpoint(
        VpcEndpointId=vpce, AddSubnetIds=[second_in_a], RemoveSubnetIds=[transit["subnetIds"][0]]
    )
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert sorted(described["SubnetIds"]) == sorted([transit["subnetIds"][1], second_in_a])
    assert len(described["NetworkInterfaceIds"]) == 2
    assert len(described["DnsEntries"]) == 3


def test_add_subnet_already_in_the_endpoint_changes_nothing(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any], two_zone_service: TenantService
) -> None:
    endpoint = _create(ec2, transit, two_zone_service, transit["subnetIds"][:2])
    vpce = endpoint["VpcEndpointId"]
    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddSubnetIds=[transit["subnetIds"][0]])
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert described["SubnetIds"] == transit["subnetIds"][:2]
    assert described["NetworkInterfaceIds"] == endpoint["NetworkInterfaceIds"]


# ------------------------------------------------------------------ DescribeVpcEndpointServices


def _detail(ec2: Any, service: TenantService) -> dict[str, Any]:
    reply = ec2.describe_vpc_endpoint_services(ServiceNames=[service.service_name])
    assert reply["ServiceNames"] == [service.service_name]
    (detail,) = reply["ServiceDetails"]
    return detail  # type: ignore[no-any-return]


def test_describe_shows_an_allowed_services_zones(
    sandbox: AwsSandbox, ec2: Any, two_zone_service: TenantService
) -> None:
    detail = _detail(ec2, two_zone_service)
    assert detail["ServiceId"] == two_zone_service.service_id
    assert detail["AvailabilityZones"] == [A, B]
    assert detail["AvailabilityZoneIds"] == sorted([sandbox.zone_id(A), sandbox.zone_id(B)])
    assert detail["ServiceRegion"] == REGION
    assert detail["ServiceType"] == [{"ServiceType": "Interface"}]


def test_describe_of_a_service_in_another_account(sandbox: AwsSandbox) -> None:
    """A tenant (its own account) sees the platform's inbound service, allowed to "*"."""
    sandbox.create_platform(REGION)
    inbound = sandbox.inbound_services[REGION]
    tenant = sandbox.tenant_client(TENANT_ACCOUNT, REGION)
    detail = _detail(tenant, inbound)
    assert detail["AvailabilityZones"] == [A, B, C]
    assert detail["AvailabilityZoneIds"] == sorted(sandbox.zone_id(z) for z in (A, B, C))
    listed = {
        d["ServiceName"]
        for page in tenant.get_paginator("describe_vpc_endpoint_services").paginate()
        for d in page["ServiceDetails"]
    }
    assert inbound.service_name in listed
    assert f"com.amazonaws.{REGION}.s3" in listed  # moto's AWS services stay


def test_describe_of_a_service_not_allowed_is_invalid_service_name(
    sandbox: AwsSandbox, ec2: Any, two_zone_service: TenantService
) -> None:
    hidden = sandbox.create_tenant_service(REGION, allow_platform=False, zones=[A])
    for names in ([hidden.service_name], [two_zone_service.service_name, hidden.service_name]):
        with pytest.raises(ClientError) as exc:
            ec2.describe_vpc_endpoint_services(ServiceNames=names)
        assert _refusal(exc)[0] == "InvalidServiceName"
    listed = {
        d["ServiceName"]
        for page in ec2.get_paginator("describe_vpc_endpoint_services").paginate()
        for d in page["ServiceDetails"]
    }
    assert two_zone_service.service_name in listed
    assert hidden.service_name not in listed


def test_describe_of_a_service_that_does_not_exist_is_invalid_service_name(ec2: Any) -> None:
    missing = f"com.amazonaws.vpce.{REGION}.vpce-svc-0123456789abcdef0"
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoint_services(ServiceNames=[missing])
    assert _refusal(exc)[0] == "InvalidServiceName"


def test_describe_paginates(sandbox: AwsSandbox, ec2: Any) -> None:
    services = [sandbox.create_tenant_service(REGION, zones=[A]).service_name for _ in range(3)]
    pages = list(
        ec2.get_paginator("describe_vpc_endpoint_services").paginate(
            ServiceNames=services, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["ServiceDetails"]) for p in pages] == [2, 1]
    assert sorted(d["ServiceName"] for p in pages for d in p["ServiceDetails"]) == sorted(services)
    everything = list(ec2.get_paginator("describe_vpc_endpoint_services").paginate())
    ids = [d["ServiceId"] for p in everything for d in p["ServiceDetails"]]
    assert len(ids) == len(set(ids))  # (s3 is listed twice, as Gateway and Interface)
    names = {d["ServiceName"] for p in everything for d in p["ServiceDetails"]}
    assert set(services) <= names


def test_describe_filters_by_service_type_and_name(
    ec2: Any, two_zone_service: TenantService
) -> None:
    reply = ec2.describe_vpc_endpoint_services(
        Filters=[{"Name": "service-name", "Values": [two_zone_service.service_name]}]
    )
    assert reply["ServiceNames"] == [two_zone_service.service_name]
    interface = ec2.describe_vpc_endpoint_services(
        ServiceNames=[two_zone_service.service_name, f"com.amazonaws.{REGION}.s3"],
        Filters=[{"Name": "service-type", "Values": ["Interface"]}],
    )
    assert two_zone_service.service_name in interface["ServiceNames"]
    assert all(
        d["ServiceType"] == [{"ServiceType": "Interface"}] for d in interface["ServiceDetails"]
    )


def test_the_owner_sees_its_services_zone_ids(
    sandbox: AwsSandbox, ec2: Any, two_zone_service: TenantService
) -> None:
    (config,) = ec2.describe_vpc_endpoint_service_configurations(
        ServiceIds=[two_zone_service.service_id]
    )["ServiceConfigurations"]
    assert config["AvailabilityZones"] == [A, B]
    assert config["AvailabilityZoneIds"] == sorted([sandbox.zone_id(A), sandbox.zone_id(B)])
