"""Pure planner of the hourly-limit block, enforced per tenant and transit VPC: each
tenant's outbound endpoints in a transit VPC carry one security group of the tenant's
own (its tenant group), which holds the VPC's open rules (the ingress rules of the
groups the config names for that VPC) while the tenant is open, and no ingress rule
while it is blocked. A block or a reopen is then one call per tenant and VPC, never
one per endpoint, and no endpoint is modified to block or reopen it.

Given the tenant groups AWS lists, the VPCs' open rules, which tenants are blocked
until when, and which groups are still wanted, decide per group: block it (record
the block in its tag first, then take its rules off), set its rules to the open ones
(a reopen, or the platform changed its open rules), or delete it (its tenant has no
endpoint left in that VPC). Whether an endpoint lets traffic in is judged from AWS's
listing alone: through the ingress rules of its groups, none meaning none."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from causeway.domain import Endpoint, Rule, SecurityGroup
from causeway.reconcile.phases import LIVE_STATES, normalize

# Endpoint states in which its network interfaces may still hold its groups.
_HOLDING = frozenset({*LIVE_STATES, "deleting"})


@dataclass(frozen=True)
class BlockGroup:
    """Record the block on the group (unless it says so already), then take `revoke`
    (every ingress rule it has) off."""

    group_id: str
    tenant: str
    until: datetime
    revoke: frozenset[Rule]
    tag: bool = True


@dataclass(frozen=True)
class SetRules:
    """Give the group exactly the open rules: add `authorize`, take `revoke` off."""

    group_id: str
    tenant: str
    authorize: frozenset[Rule]
    revoke: frozenset[Rule]


@dataclass(frozen=True)
class DeleteGroup:
    group_id: str
    tenant: str


GroupAction = BlockGroup | SetRules | DeleteGroup


@dataclass(frozen=True)
class Enforcement:
    """What the plan sees: the region's tenant groups, the open rules of each
    configured transit VPC (a VPC missing: not configured, or its open groups not
    listed), each tenant's block, and the (tenant, VPC) pairs that keep their group."""

    groups: Sequence[SecurityGroup]
    open_rules: Mapping[str, frozenset[Rule]]
    blocked_until: Callable[[str], datetime | None]
    wanted: frozenset[tuple[str, str]]
    in_use: frozenset[str] = frozenset()  # groups an endpoint not yet deleted holds


def plan(seen: Enforcement) -> tuple[GroupAction, ...]:
    """One action at most per tenant group, blocks first (they are what is urgent)."""
    actions = [a for g in seen.groups if (a := _decide(g, seen)) is not None]
    return tuple(sorted(actions, key=lambda a: not isinstance(a, BlockGroup)))


def _decide(group: SecurityGroup, seen: Enforcement) -> GroupAction | None:
    tenant = group.tenant
    if tenant is None:
        return None
    until = seen.blocked_until(tenant)
    if (tenant, group.vpc_id) not in seen.wanted and group.id not in seen.in_use:
        return DeleteGroup(group.id, tenant)
    if until is not None:
        tag = group.blocked_until is None or group.blocked_until < until
        if not group.rules and not tag:
            return None
        return BlockGroup(group.id, tenant, until, group.rules, tag)
    wanted = seen.open_rules.get(group.vpc_id)
    if wanted is None:
        return None  # the VPC's open rules are not known: its group is left as it is
    authorize, revoke = wanted - group.rules, group.rules - wanted
    if not authorize and not revoke:
        return None
    return SetRules(group.id, tenant, authorize, revoke)


def wanted_groups(endpoints: Iterable[Endpoint]) -> set[tuple[str, str]]:
    """The (tenant, VPC) pairs whose group an endpoint may still hold: every endpoint
    not yet deleted, and the groups on it (a group is never deleted from under one)."""
    pairs: set[tuple[str, str]] = set()
    for endpoint in endpoints:
        if endpoint.owner_namespace and normalize(endpoint.state) in _HOLDING:
            pairs.add((endpoint.owner_namespace, endpoint.vpc_id))
    return pairs


def groups_in_use(endpoints: Iterable[Endpoint]) -> set[str]:
    """The groups an endpoint not yet deleted holds."""
    return {
        group
        for endpoint in endpoints
        if normalize(endpoint.state) in _HOLDING
        for group in endpoint.security_groups
    }


def open_rules(
    groups: Iterable[SecurityGroup], open_groups: Mapping[str, Sequence[str]]
) -> dict[str, frozenset[Rule]]:
    """Per transit VPC, the union of the ingress rules of its configured open groups, for
    the VPCs whose open groups were all listed."""
    by_id = {g.id: g for g in groups}
    rules: dict[str, frozenset[Rule]] = {}
    for vpc_id, names in open_groups.items():
        found = [by_id.get(g) for g in names]
        if all(g is not None for g in found):
            rules[vpc_id] = frozenset(r for g in found if g is not None for r in g.rules)
    return rules


def lets_traffic_in(endpoint: Endpoint, groups: Mapping[str, SecurityGroup]) -> bool:
    """Whether AWS's listing shows the endpoint letting traffic in: one of its groups
    has an ingress rule, or is not listed (then it is not known to hold none)."""
    for group_id in endpoint.security_groups:
        group = groups.get(group_id)
        if group is None or group.rules:
            return True
    return False


def open_endpoints(
    endpoints: Iterable[Endpoint],
    groups: Mapping[str, SecurityGroup],
    blocked_until: Callable[[str], datetime | None],
) -> dict[str, int]:
    """Per blocked tenant, its live endpoints that AWS shows letting traffic in."""
    counts: dict[str, int] = {}
    for endpoint in endpoints:
        tenant = endpoint.owner_namespace
        if not tenant or normalize(endpoint.state) not in LIVE_STATES:
            continue
        if blocked_until(tenant) is not None and lets_traffic_in(endpoint, groups):
            counts[tenant] = counts.get(tenant, 0) + 1
    return counts


def tagged_blocks(groups: Iterable[SecurityGroup], now: datetime) -> dict[str, datetime]:
    """Per tenant, the latest block its groups record that has not ended."""
    blocks: dict[str, datetime] = {}
    for group in groups:
        until = group.blocked_until
        if group.tenant and until is not None and until > now:
            blocks[group.tenant] = max(until, blocks.get(group.tenant, until))
    return blocks
