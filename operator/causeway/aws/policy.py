"""The IAM policy the operator's role needs, derived from the operator config: exactly
the EC2 and CloudWatch actions the operator calls, each scoped as tightly as AWS
allows — endpoints by Causeway's owner tag, creation by the transit VPCs of the pool,
their subnets and the security groups of the config and by whose service the endpoint
reaches (an account's, in the region: never an AWS or Marketplace service),
security-group swaps by the transit VPCs, tenant security groups (made in the transit
VPCs, blocked and reopened) by Causeway's kind tag, connection answers by the platform's own
service — and Service Quotas' GetServiceQuota on the endpoints-per-VPC quota when a
transit VPC has no maxEndpoints.

Only resource types and condition keys the Service Authorization Reference lists for
each action are used (a key AWS never sets would silently allow or deny everything):
tests/unit/test_iam_policy.py checks them against a dated copy of its data.

A pure function of the config, so `causeway iam-policy` prints the policy for a real
config and a test keeps the action list equal to the calls the operator makes.
(sts:GetCallerIdentity, made once at start, needs no permission: AWS allows it to
every principal.)"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from causeway.aws.quotas import ENDPOINTS_PER_VPC_QUOTA, GROUP_QUOTAS, SERVICE_CODE
from causeway.aws.regions import partition_of
from causeway.config import OperatorConfig, RegionConfig
from causeway.domain import (
    MANAGED_BY,
    TAG_BLOCKED_UNTIL,
    TAG_KIND,
    TAG_MANAGED_BY,
    TAG_UID,
    TENANT_GROUP_KIND,
)

# Read-only calls AWS does not scope to resources (the service authorization reference
# lists no resource type for them), so "*" is the only resource they accept.
UNSCOPED_READS = (
    "cloudwatch:GetMetricData",
    "ec2:DescribeSecurityGroups",  # the start-up check; tenant groups and open rules
    "ec2:DescribeSubnets",  # the transit pool's start-up check
    "ec2:DescribeVpcEndpointConnections",
    "ec2:DescribeVpcEndpointServices",  # where tenants' services run (their zones)
    "ec2:DescribeVpcEndpoints",
)
OWNED = {"StringLike": {f"aws:ResourceTag/{TAG_UID}": "?*"}}  # carries our owner tag
TENANT_GROUP = {"StringEquals": {f"aws:ResourceTag/{TAG_KIND}": TENANT_GROUP_KIND}}
# Services whose owner is AWS itself or the Marketplace (ec2:VpceServiceOwner): an
# endpoint in the transit VPC only ever reaches a tenant account's service.
FOREIGN_OWNERS = ["amazon", "aws-marketplace"]


def policy_document(config: OperatorConfig) -> dict[str, Any]:
    """The IAM policy (JSON-ready) for a role running Causeway with this config."""
    regions = sorted(config.regions.items())
    statements = [
        _statement("ReadEndpointsAndUsage", UNSCOPED_READS, ["*"]),
        _statement(
            "CreateEndpointsTaggedAsCausewaysOwnToTenantServices",
            ["ec2:CreateVpcEndpoint"],
            [_arn(name, "vpc-endpoint/*") for name, _ in regions],
            {
                "StringLike": {
                    f"aws:RequestTag/{TAG_UID}": "?*",
                    "ec2:VpceServiceName": _reachable_services(regions),
                },
                "StringNotEquals": {"ec2:VpceServiceOwner": FOREIGN_OWNERS},
            },
        ),
        _statement(
            "CreateEndpointsOnlyInTheTransitVpc",
            ["ec2:CreateVpcEndpoint"],
            [arn for name, region in regions for arn in _network_arns(name, region)],
        ),
        _statement(
            "TagEndpointsWhenCreatingThem",
            ["ec2:CreateTags"],
            [_arn(name, "vpc-endpoint/*") for name, _ in regions],
            {"StringEquals": {"ec2:CreateAction": "CreateVpcEndpoint"}},
        ),
        _statement(
            "CreateEndpointsWithTenantGroups",
            ["ec2:CreateVpcEndpoint"],
            [_arn(name, "security-group/*") for name, _ in regions],
            # The tenant groups are made at run time: known by Causeway's kind tag.
            TENANT_GROUP,
        ),
        _statement(
            "MakeTenantGroupsInTheTransitVpcs",
            ["ec2:CreateSecurityGroup"],
            [_arn(name, f"vpc/{vpc.vpcId}") for name, region in regions for vpc in region.pool],
        ),
        _statement(
            "MakeTenantGroupsTaggedAsCauseways",
            ["ec2:CreateSecurityGroup"],
            [_arn(name, "security-group/*") for name, _ in regions],
            {
                "StringEquals": {
                    f"aws:RequestTag/{TAG_MANAGED_BY}": MANAGED_BY,
                    f"aws:RequestTag/{TAG_KIND}": TENANT_GROUP_KIND,
                }
            },
        ),
        _statement(
            "TagTenantGroupsWhenMakingThem",
            ["ec2:CreateTags"],
            [_arn(name, "security-group/*") for name, _ in regions],
            {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}},
        ),
        _statement(
            "BlockReopenAndDeleteTenantGroups",
            [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
                "ec2:RevokeSecurityGroupIngress",
            ],
            [_arn(name, "security-group/*") for name, _ in regions],
            TENANT_GROUP,
        ),
        _statement(
            "MarkTenantGroupsBlocked",
            ["ec2:CreateTags"],
            [_arn(name, "security-group/*") for name, _ in regions],
            {
                **TENANT_GROUP,
                "ForAllValues:StringEquals": {"aws:TagKeys": [TAG_BLOCKED_UNTIL]},
                # ForAllValues is also true of a request naming no tag at all.
                "Null": {"aws:TagKeys": "false"},
            },
        ),
        _statement(
            "DeleteAndMoveOwnEndpoints",
            ["ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint"],
            [_arn(name, "vpc-endpoint/*") for name, _ in regions],
            OWNED,
        ),
        _statement(
            "SwapSecurityGroupsOfTheTransitVpc",
            ["ec2:ModifyVpcEndpoint"],
            [_arn(name, "security-group/*") for name, _ in regions],
            # Any group of the transit VPC: an endpoint made before tenant groups moves
            # onto its tenant's group off the shared ones it was created with.
            {"ArnLike": {"ec2:Vpc": _pool_arns(regions)}},
        ),
        _statement(
            "ExtendOwnEndpointsIntoTransitSubnets",
            ["ec2:ModifyVpcEndpoint"],
            # AddSubnetIds, when a tenant's service starts running in another zone.
            [_arn(n, f"subnet/{s}") for n, r in regions for vpc in r.pool for s in vpc.subnetIds],
        ),
    ]
    remote = [name for name, region in regions if region.remoteServiceRegions]
    if remote:
        statements.append(
            _statement(
                # Cross-Region PrivateLink: a permission AWS checks beside CreateVpcEndpoint
                # when the endpoint's service is in another Region (only the Regions whose
                # config allows one; which services, the statement above says).
                "CreateCrossRegionEndpoints",
                ["vpce:AllowMultiRegion"],
                [_arn(name, "vpc-endpoint/*") for name in remote],
            )
        )
    services = [
        _arn(name, f"vpc-endpoint-service/{region.inboundServiceId}")
        for name, region in regions
        if region.inboundServiceId
    ]
    # The security-group quotas are read in every Region (the start-up check of what
    # tenant groups need); the endpoints-per-VPC one where a VPC has no maxEndpoints.
    quotas = [
        _quota_arn(name, code)
        for name, region in regions
        for code in (*((ENDPOINTS_PER_VPC_QUOTA,) if _reads_quota(region) else ()), *GROUP_QUOTAS)
    ]
    statements.append(
        _statement("ReadTheVpcQuotasItPlansBy", ["servicequotas:GetServiceQuota"], quotas)
    )
    if services:
        statements.append(
            _statement(
                "AnswerRequestsToThePlatformService",
                ["ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"],
                services,
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


def actions_of(document: dict[str, Any]) -> set[str]:
    """Every action a policy document allows."""
    return {action for statement in document["Statement"] for action in statement["Action"]}


def _statement(
    sid: str, actions: Iterable[str], resources: Iterable[str], condition: Any = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": list(dict.fromkeys(resources)),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _network_arns(name: str, region: RegionConfig) -> list[str]:
    """What else a create names: every transit VPC of the pool, their subnets, and the
    shared groups of the config (a create recorded before tenant groups is sent again
    with them; a new one carries its tenant group, granted by its tag). The endpoint
    service is no resource of CreateVpcEndpoint: which services may be reached is
    decided by the condition keys of the vpc-endpoint resource."""
    return [
        *(_arn(name, f"vpc/{vpc.vpcId}") for vpc in region.pool),
        *(_arn(name, f"subnet/{subnet}") for vpc in region.pool for subnet in vpc.subnetIds),
        *(_arn(name, f"security-group/{group}") for group in _shared_groups(region)),
    ]


def _shared_groups(region: RegionConfig) -> list[str]:
    """Each transit VPC's open groups, and its blocked group (with which an earlier
    version created the endpoints of a blocked tenant)."""
    groups: list[str] = []
    for vpc in region.pool:
        blocked = [vpc.blockedSecurityGroupId] if vpc.blockedSecurityGroupId else []
        groups += [*vpc.securityGroupIds, *blocked]
    return groups


def _pool_arns(regions: list[tuple[str, RegionConfig]]) -> list[str]:
    return [_arn(n, f"vpc/{vpc.vpcId}") for n, r in regions for vpc in r.pool]


def _reads_quota(region: RegionConfig) -> bool:
    """A transit VPC without maxEndpoints takes its capacity from the account's quota."""
    return any(vpc.maxEndpoints is None for vpc in region.pool)


def _quota_arn(region: str, code: str) -> str:
    return f"arn:{partition_of(region)}:servicequotas:{region}:*:{SERVICE_CODE}/{code}"


def _arn(region: str, resource: str) -> str:
    """An EC2 ARN in the platform's account (any: the role's own, as the config's ids
    are), in the partition the region belongs to."""
    return f"arn:{partition_of(region)}:ec2:{region}:*:{resource}"


def _reachable_services(regions: list[tuple[str, RegionConfig]]) -> list[str]:
    """Tenant services in each served Region and in the Regions they may reach."""
    homes = {name for name, _ in regions}
    homes |= {remote for _, region in regions for remote in region.remoteServiceRegions}
    return [_tenant_services(home) for home in sorted(homes)]


def _tenant_services(region: str) -> str:
    """Names of endpoint services hosted in `region` by an account (AWS's own services
    are named com.amazonaws.<region>.<service>)."""
    return f"com.amazonaws.vpce.{region}.vpce-svc-*"
