"""The account's VPC quotas Causeway plans by, read from Service Quotas: interface
endpoints per VPC ("Interface and Gateway Load Balancer endpoints per VPC", a transit
VPC's capacity when the config sets no maxEndpoints), and the three security-group
quotas tenant security groups need (checked at start-up and by check-config)."""

from __future__ import annotations

from typing import Any

from causeway.aws.session import aws_call
from causeway.reconcile.group_quotas import (
    GROUPS_PER_INTERFACE,
    GROUPS_PER_REGION,
    RULES_PER_GROUP,
    GroupQuotas,
)

SERVICE_CODE = "vpc"
ENDPOINTS_PER_VPC_QUOTA = "L-29B6F2EB"
GROUP_QUOTAS = (RULES_PER_GROUP, GROUPS_PER_INTERFACE, GROUPS_PER_REGION)


def applied_quota(service_quotas: Any, code: str) -> int:
    """The applied value of a `vpc` quota (AWS answers with its default when the account
    never raised it); AwsCallError when Service Quotas refuses."""
    with aws_call("GetServiceQuota"):
        reply = service_quotas.get_service_quota(ServiceCode=SERVICE_CODE, QuotaCode=code)
    return int(reply["Quota"]["Value"])


def endpoints_per_vpc(service_quotas: Any) -> int:
    return applied_quota(service_quotas, ENDPOINTS_PER_VPC_QUOTA)


def group_quotas(service_quotas: Any) -> GroupQuotas:
    """The security-group quotas of the Region, three GetServiceQuota calls."""
    return GroupQuotas(
        rules_per_group=applied_quota(service_quotas, RULES_PER_GROUP),
        groups_per_interface=applied_quota(service_quotas, GROUPS_PER_INTERFACE),
        groups_per_region=applied_quota(service_quotas, GROUPS_PER_REGION),
    )
