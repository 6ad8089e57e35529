"""What tenant security groups need of the account's VPC quotas, pure: each transit
VPC's open rules must fit in one group (a tenant's group holds their union), the Region
needs room for one group per tenant and transit VPC, and moving an endpoint made before
tenant groups adds the tenant's group in the same call that takes the open ones off.

Quotas (Amazon VPC quotas, "Security groups"; Service Quotas codes of service `vpc`):
- "Inbound or outbound rules per security group", L-0EA8095F, default 60: counted
  separately for IPv4 and IPv6 rules; a rule whose source is a security group or a
  prefix list counts once for each. A customer-managed prefix list weighs its maximum
  number of entries, which this check does not read: it counts one (said in the
  message when the VPC's rules use one).
- "Security groups per network interface", L-2AFB9258, default 5.
- "VPC security groups per Region", L-E79EC296, default 2,500."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from causeway.config import RegionConfig
from causeway.domain import Rule

RULES_PER_GROUP = "L-0EA8095F"
GROUPS_PER_INTERFACE = "L-2AFB9258"
GROUPS_PER_REGION = "L-E79EC296"
# A Region this close to its group quota gets a warning: new tenants will need groups.
LOW_ROOM_SHARE = 0.05
LOW_ROOM_FLOOR = 10


@dataclass(frozen=True)
class GroupQuotas:
    """The account's applied values of the three quotas in one Region."""

    rules_per_group: int
    groups_per_interface: int
    groups_per_region: int


@dataclass(frozen=True)
class GroupQuotaProblem:
    """A transit VPC whose open rules a tenant group cannot hold: it takes no new
    endpoints until the config (or the quota) changes."""

    vpc_id: str
    where: str  # the key path in the region's config
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


def rule_counts(rules: Iterable[Rule]) -> tuple[int, int]:
    """(IPv4 rules, IPv6 rules) as the rules-per-group quota counts them."""
    ipv4 = ipv6 = 0
    for *_, kind, _source in rules:
        ipv4 += kind != "cidr6"
        ipv6 += kind != "cidr"
    return ipv4, ipv6


def open_rules(group_ids: Iterable[str], rules_of: Mapping[str, Iterable[Rule]]) -> set[Rule]:
    """The union of these groups' ingress rules (a group AWS did not describe adds none:
    the pool check names it)."""
    return {rule for group in group_ids for rule in rules_of.get(group, ())}


def rule_problems(
    region: RegionConfig, rules_of: Mapping[str, Iterable[Rule]], quotas: GroupQuotas
) -> list[GroupQuotaProblem]:
    """Each transit VPC whose open rules, united in one tenant group, exceed the quota."""
    problems = []
    for index, vpc in enumerate(region.pool):
        rules = open_rules(vpc.securityGroupIds, rules_of)
        ipv4, ipv6 = rule_counts(rules)
        if max(ipv4, ipv6) <= quotas.rules_per_group:
            continue
        lists = " (a prefix list counted as one rule: it weighs its maximum entries)"
        detail = (
            f"their ingress rules, which each tenant's security group holds together, are "
            f"{ipv4} IPv4 and {ipv6} IPv6 rules; the account allows {quotas.rules_per_group} "
            f"per group and IP version (Service Quotas vpc {RULES_PER_GROUP})"
            + (lists if any(r[3] == "prefix" for r in rules) else "")
        )
        problems.append(GroupQuotaProblem(vpc.vpcId, _open_groups_key(region, index), detail))
    return problems


def warnings(region: RegionConfig, groups_in_region: int, quotas: GroupQuotas) -> list[str]:
    """What may go wrong later: little room for new tenant groups in the Region, and
    endpoints on many open groups that their move may not fit on one interface."""
    found = []
    room = quotas.groups_per_region - groups_in_region
    if room <= max(LOW_ROOM_FLOOR, int(quotas.groups_per_region * LOW_ROOM_SHARE)):
        found.append(
            f"{groups_in_region} of {quotas.groups_per_region} security groups of the Region "
            f"are in use (Service Quotas vpc {GROUPS_PER_REGION}): each tenant with outbound "
            "connections needs one per transit VPC it uses, and a new one fails with "
            "SecurityGroupLimitExceeded once none is left"
        )
    for index, vpc in enumerate(region.pool):
        held = len(vpc.securityGroupIds) + 1  # the open groups and the tenant's, in one call
        if held > quotas.groups_per_interface:
            found.append(
                f"{_open_groups_key(region, index)}: an endpoint made before tenant groups "
                f"holds {len(vpc.securityGroupIds)} open groups; its move names them and the "
                f"tenant's group in one ModifyVpcEndpoint, {held} groups against "
                f"{quotas.groups_per_interface} per network interface (Service Quotas vpc "
                f"{GROUPS_PER_INTERFACE}): AWS may refuse it (SecurityGroupsPerInterface"
                "LimitExceeded)"
            )
    return found


def _open_groups_key(region: RegionConfig, index: int) -> str:
    """The config path of a transit VPC's open groups (the pool form or the single VPC)."""
    prefix = f"transitVpcs.{index}." if region.transitVpcs is not None else ""
    return f"{prefix}securityGroupIds"
