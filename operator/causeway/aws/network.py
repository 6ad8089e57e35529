"""Which VPC each configured transit subnet and security group belongs to: one batched
Describe call per kind, for the start-up check of the transit VPC pool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from causeway.aws.session import aws_call


def subnet_vpcs(ec2: Any, subnet_ids: Sequence[str]) -> dict[str, str]:
    """Subnet id -> its VPC id (AwsCallError if AWS knows one of them not)."""
    with aws_call("DescribeSubnets"):
        reply = ec2.describe_subnets(SubnetIds=list(subnet_ids))
    return {s["SubnetId"]: s["VpcId"] for s in reply.get("Subnets", [])}


def group_vpcs(ec2: Any, group_ids: Sequence[str]) -> dict[str, str]:
    """Security group id -> its VPC id (AwsCallError if AWS knows one of them not)."""
    with aws_call("DescribeSecurityGroups"):
        reply = ec2.describe_security_groups(GroupIds=list(group_ids))
    return {g["GroupId"]: g.get("VpcId", "") for g in reply.get("SecurityGroups", [])}


class TransitNetwork:
    """The region's EC2 client, asked about subnets and security groups."""

    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2

    def subnet_vpcs(self, subnet_ids: Sequence[str]) -> dict[str, str]:
        return subnet_vpcs(self._ec2, subnet_ids)

    def group_vpcs(self, group_ids: Sequence[str]) -> dict[str, str]:
        return group_vpcs(self._ec2, group_ids)
