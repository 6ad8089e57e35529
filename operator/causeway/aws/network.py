"""Which VPC and Availability Zone each configured transit subnet is in, and which VPC
each security group belongs to: one batched Describe call per kind, for the start-up
check of the transit VPC pool (and the zones endpoints are created in); and every
security group of the Region (paged), for the check of the security-group quotas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from causeway.aws.groups import to_group
from causeway.aws.session import aws_call
from causeway.domain import SecurityGroup

REGION_PAGE = 1000  # DescribeSecurityGroups' largest page


@dataclass(frozen=True)
class SubnetFacts:
    """A subnet as AWS describes it: its VPC and its Availability Zone ID ("" if none)."""

    vpc_id: str
    zone_id: str


def subnet_facts(ec2: Any, subnet_ids: Sequence[str]) -> dict[str, SubnetFacts]:
    """Subnet id -> its VPC and AZ ID (AwsCallError if AWS knows one of them not)."""
    with aws_call("DescribeSubnets"):
        reply = ec2.describe_subnets(SubnetIds=list(subnet_ids))
    return {
        s["SubnetId"]: SubnetFacts(s["VpcId"], str(s.get("AvailabilityZoneId") or ""))
        for s in reply.get("Subnets", [])
    }


def group_vpcs(ec2: Any, group_ids: Sequence[str]) -> dict[str, str]:
    """Security group id -> its VPC id (AwsCallError if AWS knows one of them not)."""
    with aws_call("DescribeSecurityGroups"):
        reply = ec2.describe_security_groups(GroupIds=list(group_ids))
    return {g["GroupId"]: g.get("VpcId", "") for g in reply.get("SecurityGroups", [])}


def region_groups(ec2: Any) -> dict[str, SecurityGroup]:
    """Every security group of the Region, by id: ceil(N/1000) calls, as often as the
    start-up check runs (what the quota of groups per Region counts)."""
    groups: dict[str, SecurityGroup] = {}
    token: str | None = None
    while True:
        page = {"MaxResults": REGION_PAGE, **({"NextToken": token} if token else {})}
        with aws_call("DescribeSecurityGroups"):
            reply = ec2.describe_security_groups(**page)
        groups |= {g["GroupId"]: to_group(g) for g in reply.get("SecurityGroups", [])}
        token = reply.get("NextToken")
        if not token:
            return groups


class TransitNetwork:
    """The region's EC2 client, asked about subnets and security groups."""

    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2

    def subnets(self, subnet_ids: Sequence[str]) -> dict[str, SubnetFacts]:
        return subnet_facts(self._ec2, subnet_ids)

    def group_vpcs(self, group_ids: Sequence[str]) -> dict[str, str]:
        return group_vpcs(self._ec2, group_ids)

    def region_groups(self) -> dict[str, SecurityGroup]:
        return region_groups(self._ec2)
