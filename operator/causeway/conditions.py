"""kstatus conditions: build Ready/Reconciling/Stalled and merge them into what is
stored, moving lastTransitionTime only when a condition's status flips (the
cert-manager / Cluster API rule), and stamping observedGeneration on each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
# Beside kstatus, as Crossplane's Synced beside Ready: whether Causeway could check the
# object against AWS on its last try. False never rewrites the tenant's last observed
# phase; it says the view may be stale, and why (credentials, access, AWS unreachable).
SYNCED = "Synced"
SYNCED_REASON = "Synced"
SYNCED_MESSAGE = "Causeway reached AWS on its last check."


@dataclass(frozen=True)
class ConditionState:
    """A condition as computed now, before merging with what is stored."""

    type: str
    status: bool
    reason: str
    message: str = ""


class Progress(StrEnum):
    """Which kstatus condition is True for an object right now."""

    READY = READY  # desired state reached and serving
    RECONCILING = RECONCILING  # moving toward the desired state (or waiting on AWS/tenant)
    STALLED = STALLED  # cannot progress until the spec changes or the tenant/admin acts
    SETTLED = "Settled"  # desired state reached but not serving, e.g. provisioned: false


def kstatus(progress: Progress, reason: str, message: str) -> list[ConditionState]:
    """Ready, Reconciling and Stalled for one object; they share one reason and message."""
    return [
        ConditionState(kind, progress == kind, reason, message)
        for kind in (READY, RECONCILING, STALLED)
    ]


def synced(problem_reason: str | None = None, message: str = "") -> ConditionState:
    """The Synced condition: True, or False with the reason Causeway cannot check AWS."""
    if problem_reason is None:
        return ConditionState(SYNCED, True, SYNCED_REASON, SYNCED_MESSAGE)
    return ConditionState(SYNCED, False, problem_reason, message)


def with_condition(
    previous: Sequence[Mapping[str, Any]],
    state: ConditionState,
    *,
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The stored conditions with one of them set (added if absent), the others kept
    exactly as they were."""
    merged = merge(previous, [state], generation=generation, now=now)[0]
    kept = [dict(c) for c in previous if c.get("type") != state.type]
    return [*kept, merged]


def merge(
    previous: Sequence[Mapping[str, Any]],
    current: Sequence[ConditionState],
    *,
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Stored-shape conditions for `current`, keeping lastTransitionTime of unflipped ones."""
    before = {c.get("type"): c for c in previous}
    return [_merge_one(before.get(state.type), state, generation, now) for state in current]


def _merge_one(
    old: Mapping[str, Any] | None, state: ConditionState, generation: int | None, now: datetime
) -> dict[str, Any]:
    status = "True" if state.status else "False"
    kept = old is not None and old.get("status") == status and "lastTransitionTime" in old
    return {
        "type": state.type,
        "status": status,
        "reason": state.reason,
        "message": state.message,
        "observedGeneration": generation,
        "lastTransitionTime": old["lastTransitionTime"] if kept and old else timestamp(now),
    }


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with second precision, as Kubernetes writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
