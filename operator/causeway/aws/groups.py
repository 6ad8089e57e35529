"""Security groups in a region's transit VPCs: list them (rules and tags) in pages,
and make, change and delete the tenant groups through which the hourly limit is
enforced. A block takes every ingress rule off a tenant's group in one call, a reopen
puts them back in one call: whatever the number of the tenant's endpoints there.

Rules travel as `Rule` tuples (causeway.domain): an AWS IpPermission with several
sources becomes one rule per source, so two rule sets compare as plain sets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from causeway.aws.endpoints import parse_tag_time, tag_time
from causeway.aws.session import aws_call
from causeway.compact import shared
from causeway.domain import (
    MANAGED_BY,
    TAG_BLOCKED_UNTIL,
    TAG_KIND,
    TAG_MANAGED_BY,
    TAG_NAMESPACE,
    TENANT_GROUP_KIND,
    Rule,
    SecurityGroup,
)
from causeway.errors import AwsCallError

PAGE_SIZE = 1000  # the largest page DescribeSecurityGroups returns
_SOURCES = (
    ("IpRanges", "CidrIp", "cidr"),
    ("Ipv6Ranges", "CidrIpv6", "cidr6"),
    ("PrefixListIds", "PrefixListId", "prefix"),
    ("UserIdGroupPairs", "GroupId", "group"),
)
_GONE = frozenset({"InvalidGroup.NotFound", "InvalidGroupId.NotFound"})
# Answers that mean the rules are already as asked (a retry after a lost answer).
_ALREADY_THERE = frozenset({"InvalidPermission.Duplicate"})
_ALREADY_OFF = frozenset({"InvalidPermission.NotFound"})


def tenant_group_name(tenant: str) -> str:
    """The group's name in its VPC: unique per VPC, so a create sent twice (a lost
    answer) finds the first group instead of making a second."""
    digest = hashlib.sha256(tenant.encode()).hexdigest()[:8]
    return f"causeway-tenant-{tenant}-{digest}"


class TransitGroups:
    """The security groups of one region's transit VPCs."""

    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2

    def page(
        self, vpc_ids: Sequence[str], token: str | None = None
    ) -> tuple[list[SecurityGroup], str | None]:
        """One page of the groups of these VPCs (filtered and paginated: EC2 then takes
        the call from its standard describe bucket), and the next page's token."""
        kwargs: dict[str, Any] = {
            "Filters": [{"Name": "vpc-id", "Values": sorted(vpc_ids)}],
            "MaxResults": PAGE_SIZE,
        }
        if token:
            kwargs["NextToken"] = token
        with aws_call("DescribeSecurityGroups"):
            page = self._ec2.describe_security_groups(**kwargs)
        groups = [to_group(item) for item in page.get("SecurityGroups", [])]
        return groups, page.get("NextToken")

    def create(
        self, tenant: str, vpc_id: str, rules: Iterable[Rule], blocked_until: datetime | None
    ) -> SecurityGroup:
        """Make the tenant's group in the VPC (or find the one a lost answer made), with
        `rules` as its ingress; a blocked tenant's carries the block's tag and no rule.
        AWS gives every new group an egress rule to anywhere: left as it is (egress from
        an interface endpoint is its reply traffic only)."""
        name = tenant_group_name(tenant)
        tags = {TAG_MANAGED_BY: MANAGED_BY, TAG_KIND: TENANT_GROUP_KIND, TAG_NAMESPACE: tenant}
        if blocked_until is not None:
            tags[TAG_BLOCKED_UNTIL] = tag_time(blocked_until)
        try:
            with aws_call("CreateSecurityGroup"):
                reply = self._ec2.create_security_group(
                    GroupName=name,
                    Description=f"Causeway: outbound endpoints of tenant {tenant}"[:255],
                    VpcId=vpc_id,
                    TagSpecifications=[
                        {
                            "ResourceType": "security-group",
                            "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                        }
                    ],
                )
            group_id = str(reply["GroupId"])
        except AwsCallError as exc:
            if exc.code != "InvalidGroup.Duplicate":
                raise
            group_id = self._named(name, vpc_id)
        return SecurityGroup(group_id, vpc_id, frozenset(), tenant, name, blocked_until)

    def _named(self, name: str, vpc_id: str) -> str:
        filters = [
            {"Name": "group-name", "Values": [name]},
            {"Name": "vpc-id", "Values": [vpc_id]},
        ]
        with aws_call("DescribeSecurityGroups"):
            reply = self._ec2.describe_security_groups(Filters=filters)
        found = reply.get("SecurityGroups", [])
        if not found:
            raise AwsCallError("CreateSecurityGroup", "InvalidGroup.NotFound", name)
        return str(found[0]["GroupId"])

    def authorize(self, group_id: str, rules: Iterable[Rule]) -> None:
        """Add ingress rules, in one call."""
        permissions = to_permissions(rules)
        if not permissions:
            return
        try:
            with aws_call("AuthorizeSecurityGroupIngress"):
                self._ec2.authorize_security_group_ingress(
                    GroupId=group_id, IpPermissions=permissions
                )
        except AwsCallError as exc:
            if exc.code not in _ALREADY_THERE:
                raise
            for permission in permissions:  # some were there: add the others one by one
                self._authorize_one(group_id, permission)

    def _authorize_one(self, group_id: str, permission: Mapping[str, Any]) -> None:
        try:
            with aws_call("AuthorizeSecurityGroupIngress"):
                self._ec2.authorize_security_group_ingress(
                    GroupId=group_id, IpPermissions=[permission]
                )
        except AwsCallError as exc:
            if exc.code not in _ALREADY_THERE:
                raise

    def revoke(self, group_id: str, rules: Iterable[Rule]) -> None:
        """Take ingress rules off, in one call (a rule already gone is no failure)."""
        permissions = to_permissions(rules)
        if not permissions:
            return
        try:
            with aws_call("RevokeSecurityGroupIngress"):
                self._ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=permissions)
        except AwsCallError as exc:
            if exc.code not in _ALREADY_OFF:
                raise

    def mark_blocked(self, group_id: str, until: datetime) -> None:
        """Record the block on the group (before its rules go, so a restart between the
        two still knows to block)."""
        with aws_call("CreateTags"):
            self._ec2.create_tags(
                Resources=[group_id], Tags=[{"Key": TAG_BLOCKED_UNTIL, "Value": tag_time(until)}]
            )

    def delete(self, group_id: str) -> None:
        """Delete the group (its tenant has no endpoint left in its VPC); one already
        gone is no failure. AWS refuses while a network interface still uses it
        (DependencyViolation: an endpoint still being deleted): tried again later."""
        try:
            with aws_call("DeleteSecurityGroup"):
                self._ec2.delete_security_group(GroupId=group_id)
        except AwsCallError as exc:
            if exc.code not in _GONE:
                raise


def to_group(item: Mapping[str, Any]) -> SecurityGroup:
    """Our view of one SecurityGroup record of the EC2 API."""
    tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    tenant = tags.get(TAG_NAMESPACE) if tags.get(TAG_KIND) == TENANT_GROUP_KIND else None
    return SecurityGroup(
        id=str(item["GroupId"]),
        vpc_id=shared(str(item.get("VpcId", ""))),
        rules=frozenset(to_rules(item.get("IpPermissions", []))),
        tenant=tenant if tags.get(TAG_MANAGED_BY) == MANAGED_BY else None,
        name=str(item.get("GroupName", "")),
        blocked_until=parse_tag_time(tags.get(TAG_BLOCKED_UNTIL)),
    )


def to_rules(permissions: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """One rule per source of each IpPermission (descriptions left out)."""
    rules: list[Rule] = []
    for permission in permissions:
        protocol = str(permission.get("IpProtocol", "-1"))
        low = int(permission.get("FromPort", -1))
        high = int(permission.get("ToPort", -1))
        for key, field, kind in _SOURCES:
            for source in permission.get(key, []):
                if source.get(field):
                    rules.append((protocol, low, high, kind, str(source[field])))
    return rules


def to_permissions(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """The IpPermissions of these rules, one per rule."""
    by_kind = {kind: (key, field) for key, field, kind in _SOURCES}
    permissions: list[dict[str, Any]] = []
    for protocol, low, high, kind, source in sorted(rules):
        key, field = by_kind[kind]
        permission: dict[str, Any] = {"IpProtocol": protocol, key: [{field: source}]}
        if protocol != "-1":
            permission |= {"FromPort": low, "ToPort": high}
        permissions.append(permission)
    return permissions
