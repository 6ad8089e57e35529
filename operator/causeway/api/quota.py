"""The ConnectionQuota kind: a tenant's entitlement (licenses, data packs and the
AWS accounts it may connect from), owned by platform admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from causeway.api.common import AWS_ACCOUNT_ID_PATTERN, ApiModel, Condition, conditions_field
from causeway.api.kinds import Column, KindInfo

AwsAccountId = Annotated[str, StringConstraints(pattern=AWS_ACCOUNT_ID_PATTERN)]


class ConnectionQuotaSpec(ApiModel):
    """What the tenant bought."""

    licenses: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Each license = 1 inbound + 1 outbound provisioned connection + 5 GB/day.",
    )
    dataPacks: int = Field(
        default=0, ge=0, le=10000, description="Each data pack adds 5 GB/day to the allocation."
    )
    awsAccountIds: list[AwsAccountId] = Field(
        default_factory=list,
        max_length=100,
        description="Tenant AWS accounts whose endpoints may connect inbound.",
    )


class QuotaAmounts(ApiModel):
    """Counts and byte totals, used for both hard limits and current usage."""

    outboundConnections: int = Field(default=0, description="Provisioned outbound connections.")
    inboundConnections: int = Field(default=0, description="Provisioned inbound connections.")
    dailyBytes: int | None = Field(
        default=None, description="Bytes in the UTC day, both directions (whole MB)."
    )
    hourlyOutboundBytes: int | None = Field(
        default=None, description="Outbound bytes in the UTC hour (whole MB)."
    )
    hourlyInboundBytes: int | None = Field(
        default=None, description="Inbound bytes in the UTC hour (whole MB)."
    )


class Limit(ApiModel):
    """A Limits-API style entry."""

    max: int = Field(description="The limit.")
    remaining: int = Field(description="What is left of it now.")


class RetiredEndpoint(ApiModel):
    """An endpoint of a connection gone today: its traffic still counts until the end
    of the UTC day, so it is still metered (kept here to survive a restart)."""

    id: str = Field(description="The VPC endpoint id.")
    region: str = Field(description="Its region.")
    direction: str = Field(description="outbound or inbound.")
    service: str = Field(description="Outbound: the endpoint service name; inbound: its id.")
    vpcId: str | None = Field(default=None, description="Outbound: the transit VPC.")
    day: str = Field(description="The UTC day (YYYY-MM-DD) it counts for.")


class ResetsAt(ApiModel):
    """When the hourly and daily windows reset (UTC)."""

    hour: datetime | None = Field(default=None, description="Top of the next UTC hour.")
    day: datetime | None = Field(default=None, description="Next UTC midnight.")


class ConnectionQuotaStatus(ApiModel):
    """Entitlement versus usage."""

    hard: QuotaAmounts | None = Field(default=None, description="What the quota allows.")
    used: QuotaAmounts | None = Field(default=None, description="What is in use.")
    waiting: QuotaAmounts | None = Field(
        default=None, description="Connections waiting for a free license, by direction."
    )
    message: str | None = Field(default=None, description="The quota's state, in words.")
    limits: dict[str, Limit] = Field(default_factory=dict, description="Limits-API style view.")
    resetsAt: ResetsAt | None = Field(
        default=None, description="When the windows of the figures in `used` end (UTC)."
    )
    lastMeteredTime: datetime | None = Field(
        default=None, description="When the figures were read from CloudWatch."
    )
    blockedUntil: datetime | None = Field(
        default=None, description="Outbound traffic is blocked until then (hourly limit)."
    )
    retiredEndpoints: list[RetiredEndpoint] = Field(
        default_factory=list, description="Endpoints gone today that still count."
    )
    observedGeneration: int | None = Field(default=None, description="Generation observed.")
    conditions: list[Condition] = conditions_field("Quota conditions.")


CONNECTION_QUOTA = KindInfo(
    kind="ConnectionQuota",
    plural="connectionquotas",
    short_names=("cwcq",),
    description="A tenant's Causeway entitlement, owned by platform admins.",
    spec=ConnectionQuotaSpec,
    status=ConnectionQuotaStatus,
    columns=(
        Column("Licenses", ".spec.licenses", type="integer"),
        Column("DataPacks", ".spec.dataPacks", type="integer"),
        Column("In", ".status.used.inboundConnections", type="integer"),
        Column("Out", ".status.used.outboundConnections", type="integer"),
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        Column("Blocked", '.status.conditions[?(@.type=="OutboundBlocked")].status'),
        Column("BlockedUntil", ".status.blockedUntil", priority=1),
    ),
)
