"""The account's quota of interface endpoints per VPC ("Interface and Gateway Load
Balancer endpoints per VPC"), read from Service Quotas: a transit VPC's capacity when
the config sets no maxEndpoints."""

from __future__ import annotations

from typing import Any

from causeway.aws.session import aws_call

SERVICE_CODE = "vpc"
ENDPOINTS_PER_VPC_QUOTA = "L-29B6F2EB"


def endpoints_per_vpc(service_quotas: Any) -> int:
    """The applied quota (AWS answers with its default when the account never raised
    it); AwsCallError when Service Quotas refuses."""
    with aws_call("GetServiceQuota"):
        reply = service_quotas.get_service_quota(
            ServiceCode=SERVICE_CODE, QuotaCode=ENDPOINTS_PER_VPC_QUOTA
        )
    return int(reply["Quota"]["Value"])
