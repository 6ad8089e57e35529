"""The sandbox's AWS meets the walls a real account has: the per-VPC quota of interface
endpoints (VpcEndpointLimitExceeded; AWS's default 50, configurable per VPC; a
deleted endpoint frees its slot) and a subnet's free addresses (each endpoint takes
one in each of its subnets: InsufficientFreeAddressesInSubnet)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from causeway.sandbox.aws import AwsSandbox, TenantService

REGION = "eu-west-1"


@pytest.fixture
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


@pytest.fixture
def ec2(sandbox: AwsSandbox) -> Any:
    return sandbox.client("ec2", config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def service(sandbox: AwsSandbox) -> TenantService:
    return sandbox.create_tenant_service(REGION, acceptance_required=False)


def create(ec2: Any, vpc: dict[str, Any], service: TenantService) -> str:
    reply = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=vpc["vpcId"],
        ServiceName=service.service_name,
        SubnetIds=vpc["subnetIds"],
        SecurityGroupIds=vpc["securityGroupIds"],
    )
    return str(reply["VpcEndpoint"]["VpcEndpointId"])


def refusal(ec2: Any, vpc: dict[str, Any], service: TenantService) -> str:
    with pytest.raises(ClientError) as caught:
        create(ec2, vpc, service)
    return str(caught.value.response["Error"]["Code"])


def test_the_default_quota_is_50_endpoints_per_vpc(
    sandbox: AwsSandbox, ec2: Any, service: TenantService
) -> None:
    vpc, other = sandbox.create_transit_vpc(REGION), sandbox.create_transit_vpc(REGION)
    made = [create(ec2, vpc, service) for _ in range(50)]
    assert refusal(ec2, vpc, service) == "VpcEndpointLimitExceeded"
    create(ec2, other, service)  # the quota is per VPC
    ec2.delete_vpc_endpoints(VpcEndpointIds=made[:1])  # a deleted endpoint frees its slot
    create(ec2, vpc, service)
    assert refusal(ec2, vpc, service) == "VpcEndpointLimitExceeded"


def test_the_quota_can_be_set_for_every_vpc_or_one(
    sandbox: AwsSandbox, ec2: Any, service: TenantService
) -> None:
    lowered, raised = sandbox.create_transit_vpc(REGION), sandbox.create_transit_vpc(REGION)
    sandbox.set_endpoint_quota(2)
    sandbox.set_endpoint_quota(3, vpc_id=raised["vpcId"])
    for _ in range(2):
        create(ec2, lowered, service)
    assert refusal(ec2, lowered, service) == "VpcEndpointLimitExceeded"
    for _ in range(3):
        create(ec2, raised, service)
    assert refusal(ec2, raised, service) == "VpcEndpointLimitExceeded"


def test_a_subnet_without_a_free_address_refuses_the_endpoint(
    sandbox: AwsSandbox, ec2: Any, service: TenantService
) -> None:
    small = sandbox.create_transit_vpc(REGION, subnet_prefix=28)  # 16 - 5 reserved = 11
    for _ in range(11):
        create(ec2, small, service)
    assert refusal(ec2, small, service) == "InsufficientFreeAddressesInSubnet"
