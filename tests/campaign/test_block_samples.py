"""The campaign's invariant sampled at every step, faults on: a tenant whose quota says
it is blocked lets no traffic in, and no tenant's group is on another's endpoint.
Each row is a moment the sample must judge (and say why)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from causeway.sandbox.campaign.enforcement import Sample, blocked_means_closed

READ_FROM = datetime(2026, 12, 6, 10, 59, 58, tzinfo=UTC)
READ_TO = datetime(2026, 12, 6, 10, 59, 59, tzinfo=UTC)
RULE = {
    "IpProtocol": "tcp",
    "FromPort": 443,
    "ToPort": 443,
    "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
}


def tenant_group(namespace: str, *, rules: bool) -> dict[str, Any]:
    return {
        "GroupId": f"sg-{namespace}",
        "VpcId": "vpc-transit",
        "IpPermissions": [RULE] if rules else [],
        "Tags": [
            {"Key": "causeway.dev/kind", "Value": "TenantSecurityGroup"},
            {"Key": "causeway.dev/owner-namespace", "Value": namespace},
        ],
    }


def endpoint(namespace: str, *groups: str, state: str = "available") -> dict[str, Any]:
    return {
        "VpcEndpointId": f"vpce-{namespace}",
        "VpcId": "vpc-transit",
        "State": state,
        "Tags": [{"Key": "causeway.dev/owner-namespace", "Value": namespace}],
        "Groups": [{"GroupId": g} for g in groups],
    }


def quota(namespace: str, *, shown: str, until: str | None) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": namespace},
        "status": {
            "blockedUntil": until,
            "conditions": [{"type": "OutboundBlocked", "status": shown}],
        },
    }


def seen(quotas: list[dict[str, Any]], endpoints: list[dict[str, Any]], *, rules: bool) -> Sample:
    groups = {g["GroupId"]: g for g in (tenant_group("acme", rules=rules),)}
    return Sample(quotas, endpoints, groups, READ_FROM, READ_TO)


NEXT_HOUR = "2026-12-06T11:00:00Z"


@pytest.mark.parametrize(
    ("quotas", "endpoints", "rules", "says"),
    [
        # Blocked per the quota, its group still holds rules: the defect itself.
        (
            [quota("acme", shown="True", until=NEXT_HOUR)],
            [endpoint("acme", "sg-acme")],
            True,
            "acme's quota says blocked until 2026-12-06T11:00:00Z while its endpoint vpce-acme",
        ),
        # Blocked and closed.
        (
            [quota("acme", shown="True", until=NEXT_HOUR)],
            [endpoint("acme", "sg-acme")],
            False,
            None,
        ),
        # A group the listing does not show proves nothing: counted as letting traffic in.
        (
            [quota("acme", shown="True", until=NEXT_HOUR)],
            [endpoint("acme", "sg-unlisted")],
            False,
            "lets traffic in",
        ),
        # Still on a shared group with rules (mid-upgrade) while the quota says blocked.
        (
            [quota("acme", shown="True", until=NEXT_HOUR)],
            [endpoint("acme", "sg-acme", "sg-x")],
            False,
            "lets traffic in",
        ),
        # The block ended before the AWS read finished: reopening is allowed.
        (
            [quota("acme", shown="True", until="2026-12-06T10:59:59Z")],
            [endpoint("acme", "sg-acme")],
            True,
            None,
        ),
        # Blocked in progress (the quota does not say blocked yet): no claim to check.
        (
            [quota("acme", shown="False", until=NEXT_HOUR)],
            [endpoint("acme", "sg-acme")],
            True,
            None,
        ),
        # A deleted endpoint lets nothing in, whatever its groups.
        (
            [quota("acme", shown="True", until=NEXT_HOUR)],
            [endpoint("acme", "sg-acme", state="deleted")],
            True,
            None,
        ),
        # One tenant's group on another's endpoint, blocked or not.
        ([], [endpoint("globex", "sg-acme")], True, "holds sg-acme, the tenant group of acme"),
    ],
)
def test_the_sample_judges_each_moment(
    quotas: list[dict[str, Any]], endpoints: list[dict[str, Any]], rules: bool, says: str | None
) -> None:
    problems = blocked_means_closed(seen(quotas, endpoints, rules=rules))
    if says is None:
        assert problems == []
    else:
        assert any(says in p for p in problems), problems
