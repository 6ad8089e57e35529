"""Tenant security groups against moto (extended by the sandbox): made once per tenant
and VPC (a second create finds the first), listed with their rules and tags, closed
and opened with one call each, and deleted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from causeway.aws.groups import TransitGroups, to_permissions, to_rules
from causeway.aws.session import ClientFactory
from causeway.config import RegionConfig
from causeway.domain import SecurityGroup
from causeway.sandbox.aws import AwsSandbox

REGION = "us-east-1"
UNTIL = datetime(2026, 11, 28, 15, tzinfo=UTC)
RULES = frozenset(
    {
        ("tcp", 443, 443, "cidr", "10.0.0.0/16"),
        ("tcp", 8443, 8443, "cidr", "10.1.0.0/16"),
        ("-1", -1, -1, "cidr6", "fd00::/8"),
    }
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(region=REGION) as box:
        yield box


@pytest.fixture(scope="module")
def region_config(sandbox: AwsSandbox) -> RegionConfig:
    return RegionConfig.model_validate(sandbox.create_platform(REGION))


@pytest.fixture
def groups(sandbox: AwsSandbox) -> TransitGroups:
    session = lambda: boto3.Session(  # noqa: E731
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return TransitGroups(
        ClientFactory(session, endpoint_url=sandbox.endpoint_url).client("ec2", REGION)
    )


def listed(groups: TransitGroups, vpc_id: str) -> dict[str, SecurityGroup]:
    found, token = groups.page([vpc_id])
    assert token is None
    return {g.id: g for g in found}


def test_rules_round_trip_through_ip_permissions() -> None:
    assert frozenset(to_rules(to_permissions(RULES))) == RULES


def test_a_tenant_group_is_made_once_closed_opened_and_deleted(
    groups: TransitGroups, region_config: RegionConfig
) -> None:
    vpc = region_config.pool[0].vpcId
    made = groups.create("acme", vpc, RULES, None)
    again = groups.create("acme", vpc, RULES, None)  # a lost answer, sent again
    assert again.id == made.id
    groups.authorize(made.id, RULES)
    groups.authorize(made.id, RULES)  # already there: no failure
    seen = listed(groups, vpc)[made.id]
    assert (seen.tenant, seen.rules) == ("acme", RULES)

    groups.mark_blocked(made.id, UNTIL)
    groups.revoke(made.id, RULES)
    groups.revoke(made.id, RULES)  # already off: no failure
    closed = listed(groups, vpc)[made.id]
    assert closed.rules == frozenset() and closed.blocked_until == UNTIL

    groups.authorize(made.id, RULES)
    assert listed(groups, vpc)[made.id].rules == RULES

    groups.delete(made.id)
    groups.delete(made.id)  # gone already: no failure
    assert made.id not in listed(groups, vpc)


def test_the_open_groups_of_the_config_are_listed_as_no_tenants(
    groups: TransitGroups, region_config: RegionConfig
) -> None:
    vpc = region_config.pool[0]
    found = listed(groups, vpc.vpcId)
    for group_id in vpc.securityGroupIds:
        assert found[group_id].tenant is None
