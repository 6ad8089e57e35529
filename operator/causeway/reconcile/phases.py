"""AWS endpoint state → connection phase, and what each phase means for kstatus.

AWS spells states in camelCase on the wire (pendingAcceptance) and PascalCase in
its API reference (PendingAcceptance); comparisons here ignore case."""

from __future__ import annotations

from causeway.api import Phase
from causeway.conditions import Progress

GONE = "gone"  # not listed by AWS at all any more

_STATE_PHASES: dict[str, Phase] = {
    "pendingacceptance": Phase.PENDING_ACCEPTANCE,
    "pending": Phase.PENDING_ACTIVATION,
    "available": Phase.READY,
    "rejected": Phase.REJECTED_REMOTELY,
    "deleted": Phase.DELETED_REMOTELY,
    "expired": Phase.DELETED_REMOTELY,
    "failed": Phase.DELETED_REMOTELY,
    GONE: Phase.DELETED_REMOTELY,
    "deleting": Phase.TEARDOWN_IN_PROGRESS,
}

# States in which the endpoint still exists and may serve (or come to serve) traffic.
LIVE_STATES = frozenset({"pendingacceptance", "pending", "available"})
# States that only a new request can get out of.
DEAD_STATES = frozenset({"rejected", "deleted", "expired", "failed", GONE})
# States in which AWS still holds a record we should delete on teardown.
DELETABLE_STATES = frozenset(
    {"pendingacceptance", "pending", "available", "rejected", "failed", "expired"}
)

PHASE_PROGRESS: dict[Phase, Progress] = {
    Phase.UNPROVISIONED: Progress.SETTLED,
    Phase.ALLOCATING: Progress.RECONCILING,
    Phase.PENDING_ACCEPTANCE: Progress.RECONCILING,
    Phase.PENDING_ACTIVATION: Progress.RECONCILING,
    Phase.READY: Progress.READY,
    Phase.REJECTED_REMOTELY: Progress.STALLED,
    Phase.DELETED_REMOTELY: Progress.STALLED,
    Phase.TEARDOWN_IN_PROGRESS: Progress.RECONCILING,
}


def normalize(state: str) -> str:
    """The state in the lower-case form this module's tables use."""
    return state.lower()


def phase_for_state(state: str) -> Phase:
    """The connection phase for an AWS endpoint state; unknown states count as activating."""
    return _STATE_PHASES.get(normalize(state), Phase.PENDING_ACTIVATION)
