"""What tenant security groups need of the VPC quotas: how the rules-per-group quota
counts a VPC's open rules (per IP version; a group or prefix-list source in both), which
VPCs a tenant group cannot serve, and the warnings for the Region's room and the move
of endpoints made before tenant groups."""

from __future__ import annotations

from typing import Any

import pytest

from causeway.config import parse_config
from causeway.domain import Rule
from causeway.reconcile.group_quotas import GroupQuotas, rule_counts, rule_problems, warnings
from fakes import REGION_CONFIG

SG_A, SG_B = "sg-0000000a", "sg-0000000b"
DEFAULTS = GroupQuotas(rules_per_group=60, groups_per_interface=5, groups_per_region=2500)


def rule(kind: str, source: str, port: int = 443) -> Rule:
    return ("tcp", port, port, kind, source)


def cidrs(count: int, kind: str = "cidr") -> set[Rule]:
    return {rule(kind, f"10.0.{i}.0/24") for i in range(count)}


@pytest.mark.parametrize(
    ("rules", "counts"),
    [
        (set(), (0, 0)),
        ({rule("cidr", "10.0.0.0/16")}, (1, 0)),
        ({rule("cidr6", "2600:1f18::/56")}, (0, 1)),
        ({rule("group", "sg-1")}, (1, 1)),  # counts once for each IP version
        ({rule("prefix", "pl-1")}, (1, 1)),
        ({rule("cidr", "10.0.0.0/16"), rule("cidr", "10.0.0.0/16", 8443)}, (2, 0)),
    ],
)
def test_rules_are_counted_per_ip_version(rules: set[Rule], counts: tuple[int, int]) -> None:
    assert rule_counts(rules) == counts


def single(**more: Any) -> Any:
    return parse_config({"regions": {"us-east-1": {**REGION_CONFIG, **more}}}).regions["us-east-1"]


def test_the_union_of_the_open_groups_is_what_one_tenant_group_holds() -> None:
    """Two open groups of 40 rules each, 20 of them shared: 60 in the union, which fits;
    one more source and it does not, named by the single-VPC config's own key."""
    region = single(securityGroupIds=[SG_A, SG_B])
    first = cidrs(40)
    second = set(sorted(first)[:20]) | {rule("cidr", f"10.1.{i}.0/24") for i in range(20)}
    assert rule_problems(region, {SG_A: first, SG_B: second}, DEFAULTS) == []
    second.add(rule("cidr", "10.9.9.0/24"))
    (problem,) = rule_problems(region, {SG_A: first, SG_B: second}, DEFAULTS)
    assert str(problem).startswith("securityGroupIds: their ingress rules")
    assert "61 IPv4 and 0 IPv6 rules" in str(problem)
    assert problem.vpc_id == region.pool[0].vpcId


def test_a_prefix_list_is_said_to_weigh_more_than_it_is_counted() -> None:
    region = single(securityGroupIds=[SG_A])
    rules = cidrs(60) | {rule("prefix", "pl-1")}
    (problem,) = rule_problems(region, {SG_A: rules}, DEFAULTS)
    assert "a prefix list counted as one rule" in str(problem)


def test_a_raised_quota_is_honoured() -> None:
    region = single(securityGroupIds=[SG_A])
    raised = GroupQuotas(rules_per_group=120, groups_per_interface=5, groups_per_region=2500)
    assert rule_problems(region, {SG_A: cidrs(100)}, raised) == []


@pytest.mark.parametrize(
    ("in_use", "quota", "warned"),
    [(100, 2500, False), (2375, 2500, True), (2374, 2500, False), (95, 100, True)],
)
def test_little_room_for_tenant_groups_in_the_region_is_a_warning(
    in_use: int, quota: int, warned: bool
) -> None:
    """Warned at 5 % of the quota left (at least 10 groups)."""
    quotas = GroupQuotas(rules_per_group=60, groups_per_interface=5, groups_per_region=quota)
    said = warnings(single(), in_use, quotas)
    assert any("security groups of the Region are in use" in w for w in said) == warned


def test_an_endpoint_whose_move_would_name_more_groups_than_an_interface_holds() -> None:
    five = single(securityGroupIds=[f"sg-0000000{i}" for i in range(5)])
    (said,) = warnings(five, 10, DEFAULTS)
    assert said.startswith("securityGroupIds: an endpoint made before tenant groups holds 5")
    assert "6 groups against 5 per network interface" in said
    assert warnings(single(securityGroupIds=[SG_A, SG_B]), 10, DEFAULTS) == []
