"""The SourceRangeAllocation kind: one object per source IP range handed out to an
InboundConnection, named after the region and the range itself, so the API server
refuses a second holder by construction and the allocation outlives a lost status.
Cluster-scoped and written only by the operator; admins may read it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from causeway.api.common import (
    API_VERSION,
    K8S_NAME_PATTERN,
    REGION_PATTERN,
    VPC_ENDPOINT_ID_PATTERN,
    ApiModel,
)
from causeway.api.kinds import Column, KindInfo


class AllocationOwner(ApiModel):
    """The InboundConnection the range belongs to."""

    namespace: str = Field(pattern=K8S_NAME_PATTERN, description="Its namespace (the tenant).")
    name: str = Field(pattern=K8S_NAME_PATTERN, description="Its name.")
    uid: str = Field(description="Its uid: a recreated object with the same name is another one.")


class SourceRangeAllocationSpec(ApiModel):
    """One allocated range."""

    region: str = Field(pattern=REGION_PATTERN, description="The region whose pool it is from.")
    cidr: str = Field(description="The range, a /28 of the region's sourceIpPool.")
    vpcEndpointId: str = Field(
        pattern=VPC_ENDPOINT_ID_PATTERN, description="The tenant endpoint it was allocated for."
    )
    owner: AllocationOwner = Field(description="The InboundConnection holding the range.")


SOURCE_RANGE_ALLOCATION = KindInfo(
    kind="SourceRangeAllocation",
    plural="sourcerangeallocations",
    short_names=("cwsra",),
    description="A source IP range allocated to one InboundConnection (operator-owned).",
    spec=SourceRangeAllocationSpec,
    status=None,
    namespaced=False,
    # Not with the tenants' kinds: `kubectl get causeway` in a namespace must not need
    # a cluster-scoped read a tenant lacks.
    categories=("causeway-admin",),
    columns=(
        Column("Region", ".spec.region"),
        Column("CIDR", ".spec.cidr"),
        Column("Namespace", ".spec.owner.namespace"),
        Column("Owner", ".spec.owner.name"),
        Column("Endpoint", ".spec.vpcEndpointId", priority=1),
    ),
)


def allocation_name(region: str, cidr: str) -> str:
    """The object's name: the region and the range, e.g. us-east-1.10-200-0-16-28."""
    return f"{region}.{cidr.replace('.', '-').replace('/', '-')}"


REGION_LABEL = "causeway.dev/region"
# Only for selecting an owner's allocations on the API server: who owns one is what its
# spec says (`allocation_owner_uid`), the one rule for adopting and for collecting.
OWNER_LABEL = "causeway.dev/owner-uid"


def allocation_body(
    region: str, cidr: str, endpoint_id: str, owner: AllocationOwner
) -> dict[str, Any]:
    """The allocation exactly as the operator writes it: owner in the spec and the label."""
    return {
        "apiVersion": API_VERSION,
        "kind": SOURCE_RANGE_ALLOCATION.kind,
        "metadata": {
            "name": allocation_name(region, cidr),
            "labels": {REGION_LABEL: region, OWNER_LABEL: owner.uid},
        },
        "spec": {
            "region": region,
            "cidr": cidr,
            "vpcEndpointId": endpoint_id,
            "owner": owner.model_dump(),
        },
    }


def allocation_owner_uid(spec: Mapping[str, Any]) -> str:
    """The uid of the InboundConnection an allocation's spec names ("" when none)."""
    owner = spec.get("owner")
    return str(owner.get("uid", "")) if isinstance(owner, Mapping) else ""
