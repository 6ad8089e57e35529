"""The causeway.dev/v1alpha1 API: one pydantic model per kind's spec and status.

These models are the single source of truth: `causeway crds` generates `crds/`
from them, and the operator parses objects with them.
"""

from causeway.api.common import API_VERSION, GROUP, VERSION, Condition, Phase
from causeway.api.credential import NAMED_CREDENTIAL
from causeway.api.inbound import INBOUND
from causeway.api.kinds import Column, KindInfo
from causeway.api.outbound import OUTBOUND, OutboundConnectionSpec, OutboundConnectionStatus
from causeway.api.quota import CONNECTION_QUOTA

ALL_KINDS: tuple[KindInfo, ...] = (OUTBOUND, INBOUND, NAMED_CREDENTIAL, CONNECTION_QUOTA)

__all__ = [
    "ALL_KINDS",
    "API_VERSION",
    "CONNECTION_QUOTA",
    "GROUP",
    "INBOUND",
    "NAMED_CREDENTIAL",
    "OUTBOUND",
    "VERSION",
    "Column",
    "Condition",
    "KindInfo",
    "OutboundConnectionSpec",
    "OutboundConnectionStatus",
    "Phase",
]
