"""Plain data shared by the pure core and the AWS edge: who owns an endpoint, what
an endpoint looks like when observed, the tags that tie the two together (and record
a block), and which endpoints are metered."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

TAG_PREFIX = "causeway.dev"
TAG_MANAGED_BY = f"{TAG_PREFIX}/managed-by"
TAG_KIND = f"{TAG_PREFIX}/kind"
TAG_NAMESPACE = f"{TAG_PREFIX}/owner-namespace"
TAG_NAME = f"{TAG_PREFIX}/owner-name"
TAG_UID = f"{TAG_PREFIX}/owner-uid"
# On an endpoint blocked for its tenant's hourly limit: when it reopens (RFC 3339). The
# block is recorded in AWS itself, so a restarted operator knows what to restore.
TAG_BLOCKED_UNTIL = f"{TAG_PREFIX}/blocked-until"
# The security groups Causeway gave the endpoint when it created it (space-separated):
# blocking and reopening swap only these and the blocked group, never a group someone
# else added, and still know them after the config names other groups.
TAG_OPEN_GROUPS = f"{TAG_PREFIX}/security-groups"
# The ClientToken of the create that made the endpoint: a create recorded as sent whose
# answer was lost is known answered once an endpoint carrying its token is listed, even
# when sending it again could not tell (AWS refuses a token with other parameters).
TAG_CLIENT_TOKEN = f"{TAG_PREFIX}/client-token"
MANAGED_BY = "causeway"
TAG_VALUE_MAX = 256
# The kind tag of a tenant's security group (one per tenant and transit VPC): the group
# every outbound endpoint of that tenant in that VPC carries, and the only thing a block
# or a reopen changes (its ingress rules), whatever the number of endpoints.
TENANT_GROUP_KIND = "TenantSecurityGroup"


def endpoint_service_name(region: str, service_id: str) -> str:
    """The name AWS gives an endpoint service, which endpoints are created against."""
    return f"com.amazonaws.vpce.{region}.{service_id}"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class Owner:
    """The Kubernetes object an AWS resource belongs to."""

    kind: str
    namespace: str
    name: str
    uid: str

    def tags(self) -> dict[str, str]:
        """Owner tags put on every AWS resource Causeway creates, so it can find them again."""
        return {
            # AWS tag values stop at 256 characters; namespace + name can reach 317.
            "Name": f"causeway/{self.namespace}/{self.name}"[:TAG_VALUE_MAX],
            TAG_MANAGED_BY: MANAGED_BY,
            TAG_KIND: self.kind,
            TAG_NAMESPACE: self.namespace,
            TAG_NAME: self.name,
            TAG_UID: self.uid,
        }


def client_token(owner: Owner, generation: int, sync: str) -> str:
    """Deterministic idempotency token: the same object, generation and sync request
    always give the same token, so a retried create never makes a second endpoint."""
    digest = hashlib.sha256(f"{owner.uid}/{generation}/{sync}".encode()).hexdigest()
    return f"causeway-{digest[:48]}"


@dataclass(frozen=True, slots=True)  # one per endpoint of the region: no __dict__ each
class Endpoint:
    """An interface endpoint as AWS describes it."""

    id: str
    state: str
    service_name: str
    dns_names: tuple[str, ...] = ()
    owner_uid: str | None = None
    created: datetime | None = None
    owner_namespace: str | None = None
    security_groups: tuple[str, ...] = ()
    blocked_until: datetime | None = None  # from TAG_BLOCKED_UNTIL
    open_groups: tuple[str, ...] | None = None  # from TAG_OPEN_GROUPS (None: no such tag)
    vpc_id: str = ""  # the transit VPC it is in
    subnet_ids: tuple[str, ...] = ()  # one per Availability Zone it serves
    client_token: str | None = None  # from TAG_CLIENT_TOKEN


# One ingress permission as AWS lists it, reduced to what decides traffic: protocol,
# ports, and one source ("cidr", "cidr6", "prefix" or "group", and its id or block).
Rule = tuple[str, int, int, str, str]


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    """A security group of a transit VPC as DescribeSecurityGroups lists it: its ingress
    rules, and, for a tenant group Causeway made, whose it is and the block it records
    (TAG_BLOCKED_UNTIL). An interface endpoint lets traffic in only through the ingress
    rules of its groups: an endpoint whose groups hold none lets nothing in."""

    id: str
    vpc_id: str
    rules: frozenset[Rule] = frozenset()
    tenant: str | None = None  # the tenant (namespace) of a tenant group, else None
    name: str = ""
    blocked_until: datetime | None = None
    state: str = "available"  # what the region view's overlay compares


@dataclass(frozen=True, slots=True)
class ServiceZones:
    """Where an endpoint service runs, as DescribeVpcEndpointServices tells the platform:
    Availability Zone IDs (use1-az1: the same zone in every account, unlike the names)."""

    service_name: str
    zone_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class ConnectionRequest:
    """A tenant endpoint's connection to the platform's endpoint service, as the service
    owner sees it (DescribeVpcEndpointConnections)."""

    endpoint_id: str
    owner_account: str
    state: str
    dns_names: tuple[str, ...] = ()
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class MeteredEndpoint:
    """An endpoint whose traffic counts against a tenant's allowance: the platform's
    endpoint of an OutboundConnection, or a tenant endpoint connected in to the
    platform service. `service` is the endpoint service's name (outbound) or id
    (inbound); `vpc_id` is the transit VPC (outbound)."""

    id: str
    region: str
    namespace: str
    direction: Direction
    service: str
    vpc_id: str = ""
