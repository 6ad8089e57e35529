"""Shared pieces of the causeway.dev/v1alpha1 API: group/version, field patterns,
the Condition shape and the base model every kind's spec and status builds on.

Validation patterns live here once so the pydantic models (runtime checks) and the
generated CRDs (API-server checks) always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GROUP = "causeway.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
# Held on every connection until its AWS side is gone; nothing is created or accepted
# in AWS for an object that does not carry it yet (its deletion would not wait).
FINALIZER = f"{GROUP}/teardown"


def with_finalizer(finalizers: Sequence[str]) -> list[str]:
    """An object's finalizers with Causeway's added (last), if not there yet."""
    return list(finalizers) if FINALIZER in finalizers else [*finalizers, FINALIZER]


# Loose on purpose (partitions come and go: eusc-de-east-1, us-isob-east-1): the
# operator checks a region against botocore's partition data and says so in status.
REGION_PATTERN = r"^[a-z]{2,}(-[a-z]+)+-[0-9]+$"
VPC_ENDPOINT_ID_PATTERN = r"^vpce-[0-9a-f]{8}([0-9a-f]{9})?$"
SERVICE_NAME_PATTERN = (
    r"^com\.amazonaws\.vpce\.[a-z]{2,}(-[a-z]+)+-[0-9]+\.vpce-svc-[0-9a-f]{8}([0-9a-f]{9})?$"
)
AWS_ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
DNS_NAME_PATTERN = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


# status.conditions as metav1.Condition lists are declared: a map keyed by type (one
# entry per type, which server-side apply and kstatus tools rely on), bounded.
MAX_CONDITIONS = 16
CONDITIONS_LIST: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


def conditions_field(description: str) -> Any:
    """The `conditions` field of a status, as metav1.Condition lists are declared."""
    return Field(
        default_factory=list,
        max_length=MAX_CONDITIONS,
        description=description,
        json_schema_extra=dict(CONDITIONS_LIST),
    )


def immutable(field: str) -> dict[str, Any]:
    """JSON-schema extras that make the API server refuse changes to a field."""
    return {
        "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": f"{field} is immutable"}
        ]
    }


class ApiModel(BaseModel):
    """Base for every spec/status model: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Phase(StrEnum):
    """Where a connection stands in its lifecycle (Outbound and Inbound)."""

    UNPROVISIONED = "Unprovisioned"
    ALLOCATING = "Allocating"
    PENDING_ACCEPTANCE = "PendingAcceptance"
    PENDING_ACTIVATION = "PendingActivation"
    READY = "Ready"
    REJECTED_REMOTELY = "RejectedRemotely"
    DELETED_REMOTELY = "DeletedRemotely"
    TEARDOWN_IN_PROGRESS = "TeardownInProgress"


class Condition(ApiModel):
    """One status condition in the metav1.Condition shape."""

    type: str = Field(description="Condition type, e.g. Ready, Reconciling, Stalled.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="Stable CamelCase reason for the last transition.")
    message: str = Field(default="", description="Human-readable detail.")
    observedGeneration: int | None = Field(
        default=None, description="metadata.generation this condition was computed from."
    )
    lastTransitionTime: datetime = Field(
        description="When status last flipped (unchanged while status stays the same)."
    )


class ConnectionStatusBase(ApiModel):
    """Status fields shared by both connection kinds."""

    phase: Phase | None = Field(default=None, description="Lifecycle phase of the connection.")
    message: str | None = Field(
        default=None, description="What is happening now, or what the tenant must do next."
    )
    observedGeneration: int | None = Field(
        default=None, description="metadata.generation the status was computed from."
    )
    lastSyncTime: datetime | None = Field(
        default=None, description="When Causeway last reconciled this object against AWS."
    )
    conditions: list[Condition] = conditions_field("Ready, Reconciling and Stalled (kstatus).")
