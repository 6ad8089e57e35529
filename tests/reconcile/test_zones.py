"""Availability Zones, pure: the subnets an endpoint goes in, the zones a service added
or dropped, the pool's configuration problems, and placement preferring a VPC that
covers the service's zones (tables)."""

from __future__ import annotations

import pytest

from causeway.config import RegionConfig, parse_config
from causeway.reconcile.placement import Placements, VpcUsage
from causeway.reconcile.zones import (
    dropped_zones,
    missing_subnets,
    subnets_for,
    vpc_zones,
    zone_problems,
)

PRINCIPAL = "arn:aws:iam::111111111111:role/causeway-outbound"
ZONES = {"subnet-0000001a": "z1", "subnet-0000002a": "z2", "subnet-0000003a": "z3"}


def region(*subnets: str) -> RegionConfig:
    entry = {
        "vpcId": "vpc-0000000a",
        "subnetIds": list(subnets),
        "securityGroupIds": ["sg-0000001a"],
    }
    config = {"regions": {"us-east-1": {"platformPrincipal": PRINCIPAL, "transitVpcs": [entry]}}}
    return parse_config(config).regions["us-east-1"]


POOL = region(*ZONES)
VPC = POOL.pool[0]


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({"z1", "z2"}, ("subnet-0000001a", "subnet-0000002a")),
        ({"z3", "z9"}, ("subnet-0000003a",)),
        ({"z9"}, ()),
    ],
)
def test_an_endpoint_goes_in_the_subnets_of_its_services_zones(
    service: set[str], expected: tuple[str, ...]
) -> None:
    assert subnets_for(VPC, ZONES, service) == expected


def test_zones_added_and_dropped_by_a_service() -> None:
    has = ("subnet-0000001a",)
    assert missing_subnets(has, VPC, ZONES, {"z1", "z3"}) == ("subnet-0000003a",)
    assert missing_subnets(has, VPC, ZONES, {"z1"}) == ()
    assert dropped_zones(("subnet-0000001a", "subnet-0000002a"), ZONES, {"z2"}) == ("z1",)
    usage = [VpcUsage(VPC.vpcId, 0, 1)]
    placements = Placements(usage, {VPC.vpcId: frozenset(vpc_zones(VPC, ZONES))})
    assert placements.pool_zones == {"z1", "z2", "z3"}


@pytest.mark.parametrize(
    ("zones", "expected"),
    [
        ({}, []),
        ({"subnet-0000002a": "z1"}, ["subnet-0000001a and subnet-0000002a are both in z1"]),
        ({"subnet-0000003a": ""}, ["subnet-0000003a has no AZ ID"]),
    ],
)
def test_pool_zone_problems(zones: dict[str, str], expected: list[str]) -> None:
    found = [p.detail for p in zone_problems(POOL, {**ZONES, **zones})]
    assert [d.split(" (")[0] for d in found] == expected


A, B, C = "vpc-a", "vpc-b", "vpc-c"
BY_VPC = {A: frozenset({"z1", "z2"}), B: frozenset({"z2", "z3"}), C: frozenset({"z4"})}


@pytest.mark.parametrize(
    ("service", "room", "expected"),
    [
        (None, {A: 1, B: 1, C: 1}, A),  # zones unknown: fill-first
        (frozenset({"z1", "z2"}), {A: 1, B: 1, C: 1}, A),
        (frozenset({"z2", "z3"}), {A: 1, B: 1, C: 1}, B),  # B covers both, A one
        (frozenset({"z3", "z9"}), {A: 1, B: 1, C: 1}, B),  # z9 is nowhere: B covers all
        (frozenset({"z1", "z3"}), {A: 1, B: 1, C: 1}, A),  # none covers both: first of some
        (frozenset({"z4"}), {A: 1, B: 1, C: 1}, C),
        (frozenset({"z4"}), {A: 1, B: 1, C: 0}, None),  # the only covering VPC is full
        (frozenset({"z9"}), {A: 1, B: 1, C: 1}, None),  # covered by none: never placed
    ],
)
def test_placement_prefers_a_vpc_covering_the_services_zones(
    service: frozenset[str] | None, room: dict[str, int], expected: str | None
) -> None:
    usages = [VpcUsage(vpc, 0, capacity) for vpc, capacity in room.items()]
    placements = Placements(usages, BY_VPC)
    assert placements.peek(service) == expected
    assert placements.take(service) == expected
