"""The start-up check of a region's transit VPC pool, pure: each subnet and security
group the config lists under a VPC must belong to that VPC in AWS (a subnet of
another VPC is the classic mistake). Each problem names the entry, the key and the id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from causeway.config import RegionConfig, TransitVpcConfig


@dataclass(frozen=True)
class Misplaced:
    """One subnet or group listed under a VPC it does not belong to."""

    vpc_id: str  # the entry's VPC, which cannot take endpoints until fixed
    where: str  # the key path in the region's config
    resource: str
    actual_vpc: str

    def __str__(self) -> str:
        return f"{self.where}: {self.resource} belongs to {self.actual_vpc}, not {self.vpc_id}"


def misplaced(
    region: RegionConfig, subnets: Mapping[str, str], groups: Mapping[str, str]
) -> list[Misplaced]:
    """Every configured subnet or group whose VPC (as AWS says) is not its entry's."""
    problems: list[Misplaced] = []
    for index, vpc in enumerate(region.pool):
        prefix = f"transitVpcs.{index}." if region.transitVpcs is not None else ""
        for key, ids, found in _listed(vpc, subnets, groups):
            for resource in ids:
                actual = found.get(resource)
                if actual is not None and actual != vpc.vpcId:
                    problems.append(Misplaced(vpc.vpcId, prefix + key, resource, actual))
    return problems


def _listed(
    vpc: TransitVpcConfig, subnets: Mapping[str, str], groups: Mapping[str, str]
) -> list[tuple[str, Sequence[str], Mapping[str, str]]]:
    blocked = [vpc.blockedSecurityGroupId] if vpc.blockedSecurityGroupId else []
    return [
        ("subnetIds", vpc.subnetIds, subnets),
        ("securityGroupIds", vpc.securityGroupIds, groups),
        ("blockedSecurityGroupId", blocked, groups),
    ]


def every_subnet(region: RegionConfig) -> list[str]:
    return [subnet for vpc in region.pool for subnet in vpc.subnetIds]


def every_group(region: RegionConfig) -> list[str]:
    return [
        group
        for vpc in region.pool
        for group in [*vpc.securityGroupIds, *filter(None, [vpc.blockedSecurityGroupId])]
    ]
