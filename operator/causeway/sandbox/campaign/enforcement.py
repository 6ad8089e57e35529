"""The campaign's view of the hourly block as AWS enforces it: which endpoints let
traffic in (an interface endpoint lets in only what its security groups' ingress rules
allow), and the invariants of tenant security groups.

Judged from AWS's own listings, never from the operator's reasoning:
- at a quiet period, every live outbound endpoint holds exactly its tenant's group and
  no shared one (the upgrade from shared groups finished), no tenant's group is on
  another tenant's endpoint or left without endpoints, and an open tenant's group
  holds exactly the config's open rules (it follows the admin's changes);
- at every step (`sample`), whatever the faults: no endpoint of a tenant whose quota
  says it is blocked lets traffic in, and no tenant's group is on another's endpoint."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from causeway.sandbox.stack import SandboxStack

TAG_KIND = "causeway.dev/kind"
TAG_NAMESPACE = "causeway.dev/owner-namespace"
TENANT_GROUP = "TenantSecurityGroup"
LIVE_STATES = frozenset({"pendingAcceptance", "pending", "available"})
Rule = tuple[str, int, int, str, str]


def tags(resource: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def rules(group: Mapping[str, Any]) -> frozenset[Rule]:
    """A group's ingress rules, one per source (protocol, ports, kind of source, source)."""
    found: set[Rule] = set()
    for permission in group.get("IpPermissions", []):
        head = (
            str(permission.get("IpProtocol")),
            int(permission.get("FromPort", -1)),
            int(permission.get("ToPort", -1)),
        )
        sources = [
            *(("cidr", r["CidrIp"]) for r in permission.get("IpRanges", [])),
            *(("cidr6", r["CidrIpv6"]) for r in permission.get("Ipv6Ranges", [])),
            *(("prefix-list", p["PrefixListId"]) for p in permission.get("PrefixListIds", [])),
            *(("group", p["GroupId"]) for p in permission.get("UserIdGroupPairs", [])),
        ]
        found.update((*head, kind, source) for kind, source in sources)
    return frozenset(found)


def lets_traffic_in(endpoint: Mapping[str, Any], groups: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether one of the endpoint's groups has an ingress rule (a group the listing does
    not show counts as letting traffic in: nothing proves it does not)."""
    held = [g["GroupId"] for g in endpoint.get("Groups", [])]
    return any(g not in groups or rules(groups[g]) for g in held)


def tenant_of(group: Mapping[str, Any]) -> str | None:
    """The namespace a tenant group belongs to (None: not a tenant group)."""
    found = tags(group)
    return found.get(TAG_NAMESPACE) if found.get(TAG_KIND) == TENANT_GROUP else None


def live_endpoints(endpoints: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in endpoints if e["State"] in LIVE_STATES]


def crossed_tenants(
    endpoints: Iterable[Mapping[str, Any]], groups: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """An endpoint holding another tenant's group: one tenant's traffic rules on another's."""
    problems = []
    for endpoint in live_endpoints(endpoints):
        namespace = tags(endpoint).get(TAG_NAMESPACE)
        for held in endpoint.get("Groups", []):
            owner = tenant_of(groups.get(held["GroupId"], {}))
            if owner is not None and owner != namespace:
                problems.append(
                    f"endpoint {endpoint['VpcEndpointId']} of {namespace} holds "
                    f"{held['GroupId']}, the tenant group of {owner}"
                )
    return problems


def settled_groups(
    endpoints: Iterable[Mapping[str, Any]],
    groups: Mapping[str, Mapping[str, Any]],
    open_rules: Mapping[str, frozenset[Rule]],
    open_tenants: set[str],
) -> list[str]:
    """Once converged: each live endpoint on its tenant's group alone; every tenant group
    held by an endpoint of its tenant in its VPC; an open tenant's groups hold exactly
    config's open rules of its VPC (`open_rules`, by VPC id)."""
    live = live_endpoints(endpoints)
    problems = crossed_tenants(live, groups)
    for endpoint in live:
        namespace = tags(endpoint).get(TAG_NAMESPACE)
        held = [g["GroupId"] for g in endpoint.get("Groups", [])]
        if len(held) != 1 or tenant_of(groups.get(held[0], {})) != namespace:
            problems.append(
                f"endpoint {endpoint['VpcEndpointId']} of {namespace} holds {held}, "
                "not its tenant group alone"
            )
    used = {
        (g["GroupId"], e["VpcId"], tags(e).get(TAG_NAMESPACE))
        for e in live
        for g in e.get("Groups", [])
    }
    for group_id, group in groups.items():
        owner = tenant_of(group)
        if owner is None:
            continue
        if (group_id, group.get("VpcId"), owner) not in used:
            problems.append(f"tenant group {group_id} of {owner} is left with no endpoint")
        elif owner in open_tenants and rules(group) != open_rules.get(group.get("VpcId", "")):
            problems.append(
                f"tenant group {group_id} of open tenant {owner} holds "
                f"{sorted(rules(group))}, not the config's open rules of its VPC"
            )
    return problems


@dataclass(frozen=True)
class Sample:
    """The quotas, then AWS, read back to back at one step of the campaign."""

    quotas: list[dict[str, Any]]
    endpoints: list[dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    read_from: datetime
    read_to: datetime


def read_groups(stack: SandboxStack, vpcs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Every security group of the transit VPCs, by id, as DescribeSecurityGroups lists
    them (the harness's own requests, never faulted)."""
    pages = (
        stack.aws.client()
        .get_paginator("describe_security_groups")
        .paginate(Filters=[{"Name": "vpc-id", "Values": sorted(vpcs)}])
    )
    return {g["GroupId"]: g for page in pages for g in page["SecurityGroups"]}


def read_endpoints(stack: SandboxStack, vpcs: Iterable[str]) -> list[dict[str, Any]]:
    wanted = set(vpcs)
    pages = stack.aws.client().get_paginator("describe_vpc_endpoints").paginate()
    return [e for page in pages for e in page["VpcEndpoints"] if e["VpcId"] in wanted]


def transit_vpcs(stack: SandboxStack) -> list[str]:
    assert stack.config is not None
    return [vpc.vpcId for vpc in stack.config.regions[stack.region].pool]


def sample(stack: SandboxStack, quotas_plural: str) -> Sample:
    """Read the quotas first, AWS after: an endpoint open in the AWS read was open when
    the quota was read."""
    vpcs = transit_vpcs(stack)
    began = datetime.now(UTC)
    quotas = stack.kube.list(quotas_plural)
    endpoints = read_endpoints(stack, vpcs)
    groups = read_groups(stack, vpcs)
    return Sample(quotas, endpoints, groups, began, datetime.now(UTC))


def blocked_means_closed(seen: Sample) -> list[str]:
    """No endpoint of a tenant whose quota says it is blocked (for the whole read: its
    block ends after the AWS read) lets traffic in; no tenant's group on another's."""
    problems = crossed_tenants(seen.endpoints, seen.groups)
    for quota in seen.quotas:
        status = quota.get("status") or {}
        shown = any(
            c.get("type") == "OutboundBlocked" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        until = status.get("blockedUntil")
        if not shown or not until or _parse(until) <= seen.read_to:
            continue
        namespace = quota["metadata"]["namespace"]
        problems += [
            f"{namespace}'s quota says blocked until {until} while its endpoint "
            f"{e['VpcEndpointId']} lets traffic in"
            for e in live_endpoints(seen.endpoints)
            if tags(e).get(TAG_NAMESPACE) == namespace and lets_traffic_in(e, seen.groups)
        ]
    return problems


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))
