"""What the campaign's harness knows it did: every tenant, object, secret value and byte
of traffic it created, and how often it asked for an endpoint. The invariants compare
the operator's results (Kubernetes and AWS as they are) with this record, never with
the operator's own reasoning."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from causeway.sandbox.aws import TenantService

MB = 10**6
HOURLY_LIMIT_BYTES = 56480 * MB  # the quota's one data pack (seed 000)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class Tenant:
    """A tenant namespace, its quota as last written and its AWS accounts."""

    namespace: str
    licenses: int
    main_account: str
    spare_account: str
    accounts: set[str] = field(default_factory=set)
    ever_listed: set[str] = field(default_factory=set)  # accounts its quota ever listed
    services: list[TenantService] = field(default_factory=list)  # its endpoint services


@dataclass
class Outbound:
    namespace: str
    name: str
    service: TenantService
    provisioned: bool
    cycles: int  # times it was made to want an endpoint (created provisioned, or re-enabled)
    deleted: bool = False


@dataclass
class Inbound:
    namespace: str
    name: str
    vpce: str
    account: str
    provisioned: bool
    deleted: bool = False
    endpoint_deleted: bool = False  # the tenant deleted its endpoint on its side


@dataclass
class Credential:
    namespace: str
    name: str
    connection: str
    source: str  # the Secret holding its key
    publish: str  # the Secret Causeway writes
    value: str
    deleted: bool = False


@dataclass
class World:
    """The harness's record of one campaign."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    outbound: dict[tuple[str, str], Outbound] = field(default_factory=dict)
    inbound: dict[tuple[str, str], Inbound] = field(default_factory=dict)
    credentials: dict[tuple[str, str], Credential] = field(default_factory=dict)
    secret_values: set[str] = field(default_factory=set)  # every secret value ever written
    # Bytes pushed per (namespace, UTC hour) on its outbound endpoints, and per endpoint.
    traffic: dict[tuple[str, datetime], int] = field(default_factory=lambda: defaultdict(int))
    blocks: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # limit crossings
    stranger_account: str = "999999999999"  # an account no quota ever lists

    def live_outbound(self) -> list[Outbound]:
        return [o for o in self.outbound.values() if not o.deleted]

    def live_inbound(self) -> list[Inbound]:
        return [i for i in self.inbound.values() if not i.deleted]

    def live_credentials(self) -> list[Credential]:
        return [c for c in self.credentials.values() if not c.deleted]

    def used_this_hour(self, namespace: str, now: datetime) -> int:
        return self.traffic.get((namespace, hour_of(now)), 0)

    def blocked(self, namespace: str, now: datetime) -> bool:
        """At its hourly limit this hour: its outbound traffic must be stopped."""
        return self.used_this_hour(namespace, now) >= HOURLY_LIMIT_BYTES
