"""The sandbox models cross-Region PrivateLink as the EC2 API reference describes it: a
service offers itself to other Regions (SupportedRegions, changed with
ModifyVpcEndpointServiceConfiguration), DescribeVpcEndpointServices with ServiceRegions
describes a service of another Region that supports the caller's, CreateVpcEndpoint
with ServiceRegion connects to it (VpcEndpoint.ServiceRegion), and the owner sees,
accepts and rejects the connection in its Region. Real boto3 calls."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from causeway.sandbox.aws import AwsSandbox, TenantService

HOME = "us-east-1"  # the platform's Region, where the endpoints live
REMOTE = "eu-west-1"  # where the tenants' services run
OTHER = "ap-southeast-2"
TENANT_ACCOUNT = "333344445555"
_octets = itertools.count(60)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=HOME) as box:
        yield box


@pytest.fixture(scope="module")
def ec2(sandbox: AwsSandbox) -> Any:
    return sandbox.client("ec2", HOME, config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def remote_ec2(sandbox: AwsSandbox) -> Any:
    return sandbox.client("ec2", REMOTE, config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def transit(sandbox: AwsSandbox) -> dict[str, Any]:
    return sandbox.create_transit_vpc(HOME)


@pytest.fixture
def offered(sandbox: AwsSandbox) -> TenantService:
    """A service of REMOTE, in two of its AZs, that supports HOME."""
    return sandbox.create_tenant_service(
        REMOTE, zones=[f"{REMOTE}a", f"{REMOTE}b"], supported_regions=[HOME]
    )


def _create(
    ec2: Any, transit: dict[str, Any], service: TenantService, **extra: Any
) -> dict[str, Any]:
    endpoint: dict[str, Any] = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=transit["vpcId"],
        ServiceName=service.service_name,
        SubnetIds=transit["subnetIds"],
        SecurityGroupIds=transit["securityGroupIds"],
        **extra,
    )["VpcEndpoint"]
    return endpoint


def _refusal(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def _invalid_name(service: TenantService) -> tuple[str, str]:
    return (
        "InvalidServiceName",
        f"The Vpc Endpoint Service '{service.service_name}' does not exist",
    )


# -------------------------------------------------------------- SupportedRegions


def test_owner_sees_supported_regions_home_first(
    sandbox: AwsSandbox, remote_ec2: Any, offered: TenantService
) -> None:
    config = remote_ec2.describe_vpc_endpoint_service_configurations(
        ServiceIds=[offered.service_id]
    )["ServiceConfigurations"][0]
    assert [r["Region"] for r in config["SupportedRegions"]] == [REMOTE, HOME]
    assert config["RemoteAccessEnabled"] is True


def test_set_supported_regions_adds_and_removes(
    sandbox: AwsSandbox, remote_ec2: Any, offered: TenantService
) -> None:
    sandbox.set_supported_regions(offered.service_id, [OTHER])
    config = remote_ec2.describe_vpc_endpoint_service_configurations(
        ServiceIds=[offered.service_id]
    )["ServiceConfigurations"][0]
    assert [r["Region"] for r in config["SupportedRegions"]] == [REMOTE, OTHER]
    sandbox.set_supported_regions(offered.service_id, [])
    config = remote_ec2.describe_vpc_endpoint_service_configurations(
        ServiceIds=[offered.service_id]
    )["ServiceConfigurations"][0]
    assert [r["Region"] for r in config["SupportedRegions"]] == [REMOTE]
    assert config["RemoteAccessEnabled"] is False


@pytest.mark.parametrize("region", [REMOTE, OTHER])
def test_removing_the_home_or_an_unlisted_region_is_refused(
    remote_ec2: Any, offered: TenantService, region: str
) -> None:
    with pytest.raises(ClientError) as exc:
        remote_ec2.modify_vpc_endpoint_service_configuration(
            ServiceId=offered.service_id, RemoveSupportedRegions=[region]
        )
    assert _refusal(exc)[0] == "InvalidParameterValue"
    config = remote_ec2.describe_vpc_endpoint_service_configurations(
        ServiceIds=[offered.service_id]
    )["ServiceConfigurations"][0]
    assert [r["Region"] for r in config["SupportedRegions"]] == [REMOTE, HOME]


def test_adding_a_listed_region_again_lists_it_once(
    remote_ec2: Any, offered: TenantService
) -> None:
    remote_ec2.modify_vpc_endpoint_service_configuration(
        ServiceId=offered.service_id, AddSupportedRegions=[HOME, REMOTE, OTHER, OTHER]
    )
    config = remote_ec2.describe_vpc_endpoint_service_configurations(
        ServiceIds=[offered.service_id]
    )["ServiceConfigurations"][0]
    assert [r["Region"] for r in config["SupportedRegions"]] == [REMOTE, HOME, OTHER]


# ------------------------------------------------------- DescribeVpcEndpointServices


def test_describe_with_service_regions_shows_the_remote_service(
    sandbox: AwsSandbox, ec2: Any, offered: TenantService
) -> None:
    reply = ec2.describe_vpc_endpoint_services(
        ServiceNames=[offered.service_name], ServiceRegions=[REMOTE]
    )
    (detail,) = reply["ServiceDetails"]
    assert detail["ServiceName"] == offered.service_name
    assert detail["ServiceRegion"] == REMOTE
    assert detail["AvailabilityZones"] == [f"{REMOTE}a", f"{REMOTE}b"]
    zone_ids = [sandbox.zone_id(f"{REMOTE}{x}", REMOTE) for x in "ab"]
    assert detail["AvailabilityZoneIds"] == sorted(zone_ids)


def test_describe_without_service_regions_is_the_callers_region_only(
    ec2: Any, offered: TenantService
) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoint_services(ServiceNames=[offered.service_name])
    assert _refusal(exc)[0] == "InvalidServiceName"


def test_describe_of_a_service_not_supporting_the_region_is_invalid_service_name(
    sandbox: AwsSandbox, ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REMOTE, supported_regions=[OTHER])
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoint_services(
            ServiceNames=[service.service_name], ServiceRegions=[REMOTE]
        )
    assert _refusal(exc)[0] == "InvalidServiceName"


def test_describe_of_a_remote_service_not_allowed_is_invalid_service_name(
    sandbox: AwsSandbox, ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REMOTE, allow_platform=False, supported_regions=[HOME])
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoint_services(
            ServiceNames=[service.service_name], ServiceRegions=[REMOTE]
        )
    assert _refusal(exc)[0] == "InvalidServiceName"


def test_describe_follows_a_later_change_of_supported_regions(
    sandbox: AwsSandbox, ec2: Any
) -> None:
    service = sandbox.create_tenant_service(REMOTE)
    with pytest.raises(ClientError):
        ec2.describe_vpc_endpoint_services(
            ServiceNames=[service.service_name], ServiceRegions=[REMOTE]
        )
    sandbox.set_supported_regions(service.service_id, [HOME])
    reply = ec2.describe_vpc_endpoint_services(
        ServiceNames=[service.service_name], ServiceRegions=[REMOTE]
    )
    assert [d["ServiceRegion"] for d in reply["ServiceDetails"]] == [REMOTE]


def test_same_region_describe_is_unchanged(sandbox: AwsSandbox, ec2: Any) -> None:
    service = sandbox.create_tenant_service(HOME)
    reply = ec2.describe_vpc_endpoint_services(
        ServiceNames=[service.service_name], ServiceRegions=[HOME]
    )
    assert [d["ServiceRegion"] for d in reply["ServiceDetails"]] == [HOME]


# -------------------------------------------------------------- CreateVpcEndpoint


def test_cross_region_endpoint_waits_for_the_owner_who_accepts_it(
    sandbox: AwsSandbox, ec2: Any, remote_ec2: Any, transit: dict[str, Any], offered: TenantService
) -> None:
    endpoint = _create(ec2, transit, offered, ServiceRegion=REMOTE)
    assert endpoint["ServiceRegion"] == REMOTE
    assert endpoint["State"] == "pendingAcceptance"
    vpce_id = endpoint["VpcEndpointId"]
    (described,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce_id])["VpcEndpoints"]
    assert described["ServiceRegion"] == REMOTE
    assert sandbox.pending_connections(offered.service_id) == [vpce_id]
    (connection,) = remote_ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": [offered.service_id]}]
    )["VpcEndpointConnections"]
    assert connection["VpcEndpointId"] == vpce_id
    assert connection["VpcEndpointRegion"] == HOME
    sandbox.accept(offered.service_id, vpce_id)
    assert sandbox.pending_connections(offered.service_id) == []
    (after,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce_id])["VpcEndpoints"]
    assert after["State"] in {"pending", "available"}


def test_cross_region_endpoint_can_be_rejected(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any], offered: TenantService
) -> None:
    vpce_id = _create(ec2, transit, offered, ServiceRegion=REMOTE)["VpcEndpointId"]
    sandbox.reject(offered.service_id, vpce_id)
    (after,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce_id])["VpcEndpoints"]
    assert after["State"] == "rejected"


def test_cross_region_endpoint_without_acceptance_is_available(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    service = sandbox.create_tenant_service(
        REMOTE, acceptance_required=False, supported_regions=[HOME]
    )
    endpoint = _create(ec2, transit, service, ServiceRegion=REMOTE)
    assert endpoint["State"] == "available"


def test_cross_region_endpoint_is_not_bound_to_the_services_zones(
    ec2: Any, transit: dict[str, Any], offered: TenantService
) -> None:
    """The service runs in 2 AZs of REMOTE; the endpoint's 3 subnets are in HOME."""
    endpoint = _create(ec2, transit, offered, ServiceRegion=REMOTE)
    assert sorted(endpoint["SubnetIds"]) == sorted(transit["subnetIds"])


def test_cross_region_endpoint_keeps_one_subnet_per_zone(
    ec2: Any, transit: dict[str, Any], offered: TenantService
) -> None:
    zone = ec2.describe_subnets(SubnetIds=[transit["subnetIds"][0]])["Subnets"][0]
    second = ec2.create_subnet(
        VpcId=transit["vpcId"],
        CidrBlock=_free_cidr(ec2, transit["vpcId"]),
        AvailabilityZone=zone["AvailabilityZone"],
    )["Subnet"]["SubnetId"]
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=transit["vpcId"],
            ServiceName=offered.service_name,
            ServiceRegion=REMOTE,
            SubnetIds=[transit["subnetIds"][0], second],
            SecurityGroupIds=transit["securityGroupIds"],
        )
    assert _refusal(exc)[0] == "DuplicateSubnetsInSameZone"


def _free_cidr(ec2: Any, vpc_id: str) -> str:
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    first, second = vpc["CidrBlock"].split(".")[:2]
    return f"{first}.{second}.{next(_octets)}.0/28"


def test_without_service_region_a_remote_service_is_invalid_service_name(
    ec2: Any, transit: dict[str, Any], offered: TenantService
) -> None:
    with pytest.raises(ClientError) as exc:
        _create(ec2, transit, offered)
    assert _refusal(exc) == _invalid_name(offered)


def test_a_service_not_supporting_the_region_is_refused(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    service = sandbox.create_tenant_service(REMOTE, supported_regions=[OTHER])
    with pytest.raises(ClientError) as exc:
        _create(ec2, transit, service, ServiceRegion=REMOTE)
    assert _refusal(exc) == _invalid_name(service)


def test_a_remote_service_not_allowed_is_refused(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    service = sandbox.create_tenant_service(REMOTE, allow_platform=False, supported_regions=[HOME])
    with pytest.raises(ClientError) as exc:
        _create(ec2, transit, service, ServiceRegion=REMOTE)
    assert _refusal(exc) == _invalid_name(service)


def test_a_region_removed_from_supported_regions_refuses_new_endpoints(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any], offered: TenantService
) -> None:
    _create(ec2, transit, offered, ServiceRegion=REMOTE)
    sandbox.set_supported_regions(offered.service_id, [])
    with pytest.raises(ClientError) as exc:
        _create(ec2, transit, offered, ServiceRegion=REMOTE)
    assert _refusal(exc)[0] == "InvalidServiceName"


def test_client_token_replay_returns_the_cross_region_endpoint(
    ec2: Any, transit: dict[str, Any], offered: TenantService
) -> None:
    token = str(uuid.uuid4())
    first = _create(ec2, transit, offered, ServiceRegion=REMOTE, ClientToken=token)
    again = _create(ec2, transit, offered, ServiceRegion=REMOTE, ClientToken=token)
    assert again["VpcEndpointId"] == first["VpcEndpointId"]


def test_client_token_with_the_home_region_named_is_the_same_request(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    """ServiceRegion defaults to the caller's Region: naming it changes nothing."""
    service = sandbox.create_tenant_service(HOME)
    token = str(uuid.uuid4())
    _create(ec2, transit, service, ClientToken=token)
    assert (
        _create(ec2, transit, service, ServiceRegion=HOME, ClientToken=token)["ServiceRegion"]
        == HOME
    )


def test_same_region_endpoint_reports_its_region(
    sandbox: AwsSandbox, ec2: Any, transit: dict[str, Any]
) -> None:
    service = sandbox.create_tenant_service(HOME, acceptance_required=False)
    endpoint = _create(ec2, transit, service)
    assert endpoint["ServiceRegion"] == HOME


def test_cross_region_endpoint_extends_into_any_zone_of_its_region(
    ec2: Any, transit: dict[str, Any], offered: TenantService
) -> None:
    """ModifyVpcEndpoint AddSubnetIds on a cross-Region endpoint is not bound to the
    remote service's zones either."""
    first, *rest = transit["subnetIds"]
    endpoint = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=transit["vpcId"],
        ServiceName=offered.service_name,
        ServiceRegion=REMOTE,
        SubnetIds=[first],
        SecurityGroupIds=transit["securityGroupIds"],
    )["VpcEndpoint"]
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], AddSubnetIds=rest)
    (after,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])[
        "VpcEndpoints"
    ]
    assert sorted(after["SubnetIds"]) == sorted(transit["subnetIds"])
    assert after["ServiceRegion"] == REMOTE


def test_tenant_account_connects_cross_region_when_allowed(sandbox: AwsSandbox) -> None:
    """The check of who may connect is the same across Regions: another account sees a
    remote service that allows it and supports its Region."""
    service = sandbox.create_tenant_service(REMOTE, supported_regions=[HOME])
    remote = sandbox.client("ec2", REMOTE)
    remote.modify_vpc_endpoint_service_permissions(
        ServiceId=service.service_id, AddAllowedPrincipals=[f"arn:aws:iam::{TENANT_ACCOUNT}:root"]
    )
    tenant = sandbox.tenant_client(TENANT_ACCOUNT, HOME)
    reply = tenant.describe_vpc_endpoint_services(
        ServiceNames=[service.service_name], ServiceRegions=[REMOTE]
    )
    assert [d["ServiceRegion"] for d in reply["ServiceDetails"]] == [REMOTE]
