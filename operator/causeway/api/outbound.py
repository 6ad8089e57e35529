"""The OutboundConnection kind: a private interface endpoint from the platform's
transit VPC to an endpoint service the tenant runs in its own AWS account."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from causeway.api.common import (
    REGION_PATTERN,
    SERVICE_NAME_PATTERN,
    VPC_ENDPOINT_ID_PATTERN,
    ApiModel,
    ConnectionStatusBase,
    immutable,
)
from causeway.api.kinds import Column, KindInfo


class OutboundConnectionSpec(ApiModel):
    """What the tenant asks for: a connection to one of its endpoint services."""

    region: str = Field(
        pattern=REGION_PATTERN,
        description="AWS region of the tenant's endpoint service, e.g. us-east-1. Immutable.",
        json_schema_extra=immutable("region"),
    )
    serviceName: str = Field(
        pattern=SERVICE_NAME_PATTERN,
        max_length=128,
        description=(
            "Name of the tenant's VPC endpoint service, "
            "com.amazonaws.vpce.<region>.vpce-svc-<id>. Immutable."
        ),
        json_schema_extra=immutable("serviceName"),
    )
    serviceRegion: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description=(
            "The Region of the endpoint service when it is not spec.region (cross-Region "
            "PrivateLink: the endpoint is made in spec.region and reaches the service there; "
            "the platform must allow that Region). Immutable (removing it from a cross-Region "
            "connection leaves a service outside spec.region, which is refused too)."
        ),
        json_schema_extra=immutable("serviceRegion"),
    )
    description: str | None = Field(
        default=None, max_length=256, description="Free text shown to the tenant's users."
    )
    provisioned: bool = Field(
        default=True,
        description="false keeps the object as a placeholder and tears down its endpoint.",
    )

    @property
    def service_region(self) -> str:
        """Where the endpoint service is: serviceRegion, else region."""
        return self.serviceRegion or self.region

    @property
    def cross_region(self) -> bool:
        return self.service_region != self.region

    @model_validator(mode="after")
    def _service_is_in_its_region(self) -> OutboundConnectionSpec:
        home = self.service_region
        if not self.serviceName.startswith(f"com.amazonaws.vpce.{home}."):
            raise ValueError(f"serviceName {self.serviceName} is not in region {home}")
        return self


SERVICE_IN_REGION_RULE = {
    "rule": (
        "self.serviceName.startsWith('com.amazonaws.vpce.' + "
        "(has(self.serviceRegion) ? self.serviceRegion : self.region) + '.')"
    ),
    "message": "serviceName must be an endpoint service in spec.serviceRegion, else spec.region",
}


class PendingCreate(ApiModel):
    """A CreateVpcEndpoint request Causeway sent and has no answer to yet: recorded
    before the call, so that even after a lost answer or a restart it can be repeated
    with the same client token and parameters (AWS then answers with the endpoint it
    made, or makes it now) and the endpoint is never left behind."""

    clientToken: str = Field(max_length=64, description="The request's idempotency token.")
    serviceName: str = Field(max_length=128, description="The endpoint service asked for.")
    serviceRegion: str = Field(
        default="",
        pattern=rf"^({REGION_PATTERN.strip('^$')})?$",
        description="The service's Region when it is another one (cross-Region).",
    )
    vpcId: str = Field(
        default="",
        pattern=r"^(vpc-[0-9a-f]{8}([0-9a-f]{9})?)?$",
        description="The transit VPC the request went to.",
    )
    subnetIds: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="The subnets asked for, one per Availability Zone (none: a record from "
        "before subnets were recorded, sent in every subnet of its transit VPC).",
    )
    securityGroupIds: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="Security groups asked for (none: the transit VPC's own).",
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="The tags the endpoint was created with."
    )


class OutboundConnectionStatus(ConnectionStatusBase):
    """What Causeway observed and did."""

    vpcEndpointId: str | None = Field(
        default=None,
        pattern=VPC_ENDPOINT_ID_PATTERN,
        description="The platform's interface endpoint for this connection.",
    )
    transitVpcId: str | None = Field(
        default=None,
        pattern=r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$",
        description="The platform's transit VPC the endpoint is in (one of the region's pool).",
    )
    dnsNames: list[str] = Field(
        default_factory=list, description="DNS names of the endpoint (used by NamedCredential)."
    )
    availabilityZoneIds: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="The Availability Zones (AZ IDs, e.g. use1-az1) the endpoint is in: those "
        "of the transit VPC where the tenant's endpoint service runs.",
    )
    blockedUntil: datetime | None = Field(
        default=None,
        description="The endpoint passes no traffic until then: the namespace reached its "
        "hourly outbound limit.",
    )
    pendingCreate: PendingCreate | None = Field(
        default=None,
        description="Causeway's own bookkeeping: a create request whose answer it has not "
        "seen yet.",
    )


OUTBOUND = KindInfo(
    kind="OutboundConnection",
    plural="outboundconnections",
    short_names=("cwoc",),
    description="A private connection from the platform to a tenant's AWS endpoint service.",
    spec=OutboundConnectionSpec,
    status=OutboundConnectionStatus,
    spec_rules=(SERVICE_IN_REGION_RULE,),
    columns=(
        Column("Region", ".spec.region"),
        Column("Phase", ".status.phase"),
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        Column("Endpoint", ".status.vpcEndpointId"),
        Column("BlockedUntil", ".status.blockedUntil", priority=1),
        Column("TransitVpc", ".status.transitVpcId", priority=1),
        Column("Service", ".spec.serviceName", priority=1),
    ),
)
