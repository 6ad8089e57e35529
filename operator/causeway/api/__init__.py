"""The causeway.dev/v1alpha1 API: one pydantic model per kind's spec and status.

These models are the single source of truth: `causeway crds` generates `crds/`
from them, and the operator parses objects with them.
"""

from causeway.api.allocation import (
    OWNER_LABEL,
    SOURCE_RANGE_ALLOCATION,
    AllocationOwner,
    allocation_body,
    allocation_name,
    allocation_owner_uid,
)
from causeway.api.common import (
    API_VERSION,
    FINALIZER,
    GROUP,
    VERSION,
    Condition,
    Phase,
    with_finalizer,
)
from causeway.api.credential import NAMED_CREDENTIAL
from causeway.api.inbound import INBOUND
from causeway.api.kinds import Column, KindInfo
from causeway.api.outbound import OUTBOUND, OutboundConnectionSpec, OutboundConnectionStatus
from causeway.api.quota import CONNECTION_QUOTA

ALL_KINDS: tuple[KindInfo, ...] = (
    OUTBOUND,
    INBOUND,
    NAMED_CREDENTIAL,
    CONNECTION_QUOTA,
    SOURCE_RANGE_ALLOCATION,
)

__all__ = [
    "ALL_KINDS",
    "API_VERSION",
    "CONNECTION_QUOTA",
    "FINALIZER",
    "GROUP",
    "INBOUND",
    "NAMED_CREDENTIAL",
    "OUTBOUND",
    "OWNER_LABEL",
    "SOURCE_RANGE_ALLOCATION",
    "VERSION",
    "AllocationOwner",
    "Column",
    "Condition",
    "KindInfo",
    "OutboundConnectionSpec",
    "OutboundConnectionStatus",
    "Phase",
    "allocation_body",
    "allocation_name",
    "allocation_owner_uid",
    "with_finalizer",
]
