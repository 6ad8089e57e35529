"""The start-up check of the transit VPC pool: each configured subnet and security group
must belong to its entry's VPC; a wrong one is named (entry, key, id, its real VPC)
and its VPC takes no new endpoints. One batched call per kind, whatever the pool."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from causeway.config import RegionConfig, parse_config
from causeway.controllers.pool_check import PoolCheck
from causeway.domain import SecurityGroup
from causeway.reconcile.network import misplaced
from fakes import REGION_CONFIG, FakeNetwork, FakeRuntime, FakeServiceQuotas, FakeTransit

A, B = "vpc-0000000a", "vpc-0000000b"


def entry(vpc: str, **more: Any) -> dict[str, Any]:
    tail = vpc[-1]
    return {
        "vpcId": vpc,
        "subnetIds": [f"subnet-0000001{tail}", f"subnet-0000002{tail}"],
        "securityGroupIds": [f"sg-0000001{tail}"],
        "blockedSecurityGroupId": f"sg-0000009{tail}",
        **more,
    }


POOL = {
    "platformPrincipal": REGION_CONFIG["platformPrincipal"],
    "transitVpcs": [entry(A), entry(B)],
}


def pool_region() -> RegionConfig:
    return parse_config({"regions": {"us-east-1": POOL}}).regions["us-east-1"]


def owners(region: RegionConfig, **wrong: str) -> dict[str, str]:
    """Each configured id -> its entry's VPC, except the `wrong` ones."""
    found = {}
    for vpc in region.pool:
        ids = [*vpc.subnetIds, *vpc.securityGroupIds, str(vpc.blockedSecurityGroupId)]
        found |= dict.fromkeys(ids, vpc.vpcId)
    return found | {key.replace("_", "-"): value for key, value in wrong.items()}


CHECK_TABLE = [
    ("everything where it belongs", {}, []),
    (
        "a subnet of the other VPC",
        {"subnet_0000002b": A},
        ["transitVpcs.1.subnetIds: subnet-0000002b belongs to vpc-0000000a, not vpc-0000000b"],
    ),
    (
        "a group and a blocked group of other VPCs",
        {"sg_0000001a": "vpc-99999999", "sg_0000009b": A},
        [
            "transitVpcs.0.securityGroupIds: sg-0000001a belongs to vpc-99999999, not vpc-0000000a",
            "transitVpcs.1.blockedSecurityGroupId: sg-0000009b belongs to vpc-0000000a, "
            "not vpc-0000000b",
        ],
    ),
]


@pytest.mark.parametrize(
    ("wrong", "expected"), [c[1:] for c in CHECK_TABLE], ids=[c[0] for c in CHECK_TABLE]
)
def test_misplaced(wrong: dict[str, str], expected: list[str]) -> None:
    region = pool_region()
    found = owners(region, **wrong)
    assert [str(p) for p in misplaced(region, found, found)] == expected


def test_the_single_vpc_form_names_its_own_keys() -> None:
    region = parse_config({"regions": {"us-east-1": REGION_CONFIG}}).regions["us-east-1"]
    subnet = REGION_CONFIG["subnetIds"][0]
    (problem,) = misplaced(region, {subnet: "vpc-99999999"}, {})
    assert str(problem).startswith(f"subnetIds: {subnet} belongs to vpc-99999999")


async def test_a_wrong_subnet_is_logged_and_its_vpc_takes_nothing_new(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = FakeRuntime(FakeTransit())
    runtime.config = parse_config({"regions": {"us-east-1": POOL}})
    runtime.network = FakeNetwork(owners(pool_region(), subnet_0000001a=B))
    check = PoolCheck(runtime, "us-east-1")
    with caplog.at_level(logging.ERROR, logger="causeway.startup"):
        await check.run_once()
        await check.run_once()  # once per start
    # The configured subnets and groups, then the Region's groups (the quota check).
    assert runtime.network.calls == ["DescribeSubnets", *["DescribeSecurityGroups"] * 2]
    (line,) = [r.getMessage() for r in caplog.records]
    assert "regions.us-east-1.transitVpcs.0.subnetIds: subnet-0000001a belongs to" in line
    assert runtime.unusable_vpcs["us-east-1"] == {A}


async def test_aws_not_answering_skips_the_check_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = FakeRuntime(FakeTransit())
    runtime.network = FakeNetwork(fail="UnauthorizedOperation")
    with caplog.at_level(logging.WARNING, logger="causeway.startup"):
        await PoolCheck(runtime, "us-east-1").run_once()
    assert "UnauthorizedOperation" in caplog.text
    assert not runtime.unusable_vpcs.get("us-east-1")


def open_group(group_id: str, vpc: str, sources: int, kind: str = "cidr") -> SecurityGroup:
    rules = frozenset(
        ("tcp", 443, 443, kind, f"10.{i // 250}.{i % 250}.0/24") for i in range(sources)
    )
    return SecurityGroup(group_id, vpc, rules)


async def test_open_rules_no_tenant_group_can_hold_close_their_vpc_to_new_endpoints(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """VPC A's open group holds 61 IPv4 rules: over the 60 a tenant group may hold."""
    runtime = FakeRuntime(FakeTransit())
    runtime.config = parse_config({"regions": {"us-east-1": POOL}})
    runtime.network = FakeNetwork(owners(pool_region()))
    runtime.network.in_region = {
        "sg-0000001a": open_group("sg-0000001a", A, 61),
        "sg-0000001b": open_group("sg-0000001b", B, 60),
    }
    with caplog.at_level(logging.WARNING, logger="causeway.startup"):
        await PoolCheck(runtime, "us-east-1").run_once()
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("Config regions.us-east-1.transitVpcs.0.securityGroupIds: ")
    assert "61 IPv4 and 0 IPv6 rules; the account allows 60 per group" in line
    assert "L-0EA8095F" in line
    assert runtime.unusable_vpcs["us-east-1"] == {A}


async def test_a_region_near_its_group_quota_is_a_warning_not_a_closed_vpc(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = FakeRuntime(FakeTransit())
    runtime.quotas_client = FakeServiceQuotas(values={"L-E79EC296": 3})
    runtime.network.in_region = {
        f"sg-{i}": SecurityGroup(f"sg-{i}", "vpc-other", frozenset()) for i in range(3)
    }
    with caplog.at_level(logging.WARNING, logger="causeway.startup"):
        await PoolCheck(runtime, "us-east-1").run_once()
    assert "3 of 3 security groups of the Region are in use" in caplog.text
    assert "SecurityGroupLimitExceeded" in caplog.text
    assert not runtime.unusable_vpcs.get("us-east-1")


async def test_quotas_aws_does_not_answer_leave_the_groups_unchecked_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = FakeRuntime(FakeTransit())
    runtime.quotas_client = FakeServiceQuotas(fail="AccessDeniedException")
    with caplog.at_level(logging.WARNING, logger="causeway.startup"):
        await PoolCheck(runtime, "us-east-1").run_once()
    assert "Could not check the security-group quotas in us-east-1 (AccessDeniedException" in (
        caplog.text
    )
    assert not runtime.unusable_vpcs.get("us-east-1")
