"""Availability Zones, pure: which transit subnets an endpoint goes in (those in the
zones its service runs in, by AZ ID: zone names differ between accounts), whether a
transit VPC covers a service at all, which zones an existing endpoint could be
extended into, and which two configured subnets of a VPC share a zone (AWS refuses an
endpoint with both: DuplicateSubnetsInSameZone)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from causeway.config import RegionConfig, TransitVpcConfig
from causeway.reconcile.network import Misplaced, misplaced

# Subnet id -> its AZ ID, for every configured transit subnet AWS described.
SubnetZones = Mapping[str, str]


@dataclass(frozen=True)
class ZoneProblem:
    """A transit VPC entry whose subnets cannot all take endpoints."""

    vpc_id: str
    where: str  # the key path in the region's config
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


def vpc_zones(vpc: TransitVpcConfig, subnet_zones: SubnetZones) -> dict[str, str]:
    """AZ ID -> the VPC's subnet in it (the first listed, if two share one)."""
    zones: dict[str, str] = {}
    for subnet in vpc.subnetIds:
        zone = subnet_zones.get(subnet)
        if zone:
            zones.setdefault(zone, subnet)
    return zones


def subnets_for(
    vpc: TransitVpcConfig, subnet_zones: SubnetZones, service_zones: Iterable[str]
) -> tuple[str, ...]:
    """The VPC's subnets in the service's zones, in config order."""
    wanted = set(service_zones)
    return tuple(s for s in vpc.subnetIds if subnet_zones.get(s) in wanted)


def missing_subnets(
    endpoint_subnets: Sequence[str],
    vpc: TransitVpcConfig,
    subnet_zones: SubnetZones,
    service_zones: Iterable[str],
) -> tuple[str, ...]:
    """The VPC's subnets in zones the service runs in that the endpoint is not in yet
    (the service added a zone). Zones of the endpoint are judged by its own subnets."""
    covered = {subnet_zones.get(s) for s in endpoint_subnets}
    return tuple(
        s
        for s in subnets_for(vpc, subnet_zones, service_zones)
        if subnet_zones.get(s) not in covered
    )


def dropped_zones(
    endpoint_subnets: Sequence[str], subnet_zones: SubnetZones, service_zones: Iterable[str]
) -> tuple[str, ...]:
    """Zones the endpoint is in that the service no longer lists (reported, not acted on:
    the endpoint keeps its subnets, which is what AWS allows)."""
    listed = set(service_zones)
    zones = (subnet_zones.get(s) for s in endpoint_subnets)
    return tuple(sorted({z for z in zones if z and z not in listed}))


def zone_problems(region: RegionConfig, subnet_zones: SubnetZones) -> list[ZoneProblem]:
    """Subnets AWS described without an AZ ID, and two subnets of one VPC in one zone."""
    problems: list[ZoneProblem] = []
    for index, vpc in enumerate(region.pool):
        where = f"transitVpcs.{index}.subnetIds" if region.transitVpcs is not None else "subnetIds"
        seen: dict[str, str] = {}
        for subnet in vpc.subnetIds:
            if subnet not in subnet_zones:
                continue  # not described: the misplaced check reports it
            zone = subnet_zones[subnet]
            if not zone:
                problems.append(ZoneProblem(vpc.vpcId, where, f"{subnet} has no AZ ID"))
            elif zone in seen:
                detail = (
                    f"{seen[zone]} and {subnet} are both in {zone} (DuplicateSubnetsInSameZone: "
                    "an endpoint takes one subnet per Availability Zone)"
                )
                problems.append(ZoneProblem(vpc.vpcId, where, detail))
            else:
                seen[zone] = subnet
    return problems


def pool_problems(
    region: RegionConfig, subnets: Mapping[str, tuple[str, str]], groups: Mapping[str, str]
) -> list[Misplaced | ZoneProblem]:
    """Everything wrong with a region's transit pool as AWS describes it: `subnets` maps
    a subnet to (its VPC, its AZ ID), `groups` a security group to its VPC."""
    vpcs = {subnet: vpc for subnet, (vpc, _) in subnets.items()}
    zones = {subnet: zone for subnet, (_, zone) in subnets.items()}
    return [*misplaced(region, vpcs, groups), *zone_problems(region, zones)]
