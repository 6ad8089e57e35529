"""The InboundConnection kind: a tenant's own interface endpoint to the platform's
endpoint service, which Causeway accepts once it passes the tenant's checks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from causeway.api.common import (
    DNS_NAME_PATTERN,
    REGION_PATTERN,
    VPC_ENDPOINT_ID_PATTERN,
    ApiModel,
    ConnectionStatusBase,
    immutable,
)
from causeway.api.kinds import Column, KindInfo


class PrivateDns(ApiModel):
    """The tenant's platform domain, for the DNS record Causeway tells it to create."""

    domain: str = Field(
        pattern=DNS_NAME_PATTERN,
        max_length=253,
        description="The tenant's platform domain, e.g. acme.platform.example.com.",
    )


class InboundConnectionSpec(ApiModel):
    """What the tenant asks for: accept its endpoint's request to the platform service."""

    region: str = Field(
        pattern=REGION_PATTERN,
        description="AWS region of the tenant's endpoint. Immutable.",
        json_schema_extra=immutable("region"),
    )
    vpcEndpointId: str = Field(
        pattern=VPC_ENDPOINT_ID_PATTERN,
        description="The tenant's interface endpoint to the platform service. Immutable.",
        json_schema_extra=immutable("vpcEndpointId"),
    )
    description: str | None = Field(
        default=None, max_length=256, description="Free text shown to the tenant's users."
    )
    provisioned: bool = Field(
        default=True, description="false keeps the object as a placeholder and rejects the link."
    )
    privateDns: PrivateDns | None = Field(
        default=None, description="Ask for the DNS record to create in a private hosted zone."
    )


class DnsRecord(ApiModel):
    """A DNS record the tenant must create in its own private hosted zone."""

    zone: str = Field(description="The private hosted zone to create (or use) in Route 53.")
    name: str = Field(description="Fully qualified record name.")
    type: Literal["A", "CNAME"] = Field(description="Record type (A: a Route 53 alias).")
    target: str = Field(description="What the record points to: the endpoint's DNS name.")
    note: str | None = Field(default=None, description="Where and how to create it.")


class InboundConnectionStatus(ConnectionStatusBase):
    """What Causeway observed and did."""

    sourceIpRanges: list[str] = Field(
        default_factory=list,
        description="Platform source ranges the tenant should allow; stable while provisioned.",
    )
    dnsRecord: DnsRecord | None = Field(
        default=None, description="The record the tenant must create for private DNS."
    )


INBOUND = KindInfo(
    kind="InboundConnection",
    plural="inboundconnections",
    short_names=("cwic",),
    description="A private connection from a tenant's VPC endpoint to the platform.",
    spec=InboundConnectionSpec,
    status=InboundConnectionStatus,
    columns=(
        Column("Region", ".spec.region"),
        Column("Endpoint", ".spec.vpcEndpointId"),
        Column("Phase", ".status.phase"),
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        Column("Source", ".status.sourceIpRanges[0]"),
        Column("Domain", ".spec.privateDns.domain", priority=1),
    ),
)
