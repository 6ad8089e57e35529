"""Status rendering shared by both connection kinds (pure): where a connection stands
(phase, kstatus progress, reason, message, and the kind's own fields) becomes the
status stanza, merged with what is stored so lastTransitionTime moves only on a flip,
and only what changed is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from causeway.api import Phase
from causeway.conditions import (
    STALLED,
    SYNCED,
    ConditionState,
    Progress,
    kstatus,
    merge,
    synced,
    timestamp,
    with_condition,
)
from causeway.errors import TENANT_TERMINAL_REASONS


@dataclass(frozen=True)
class Problem:
    """Why the last attempt did not get through, as condition reason + human message."""

    reason: str
    message: str
    terminal: bool


@dataclass(frozen=True)
class Outcome:
    """Where one connection stands, before it is rendered as status. `fields` are the
    kind's own status fields (e.g. vpcEndpointId); `sync_problem` is a recoverable
    failure: the view may be stale (Synced False), the phase is the last known;
    `conditions` are the kind's own, beside kstatus and Synced."""

    phase: Phase
    progress: Progress
    reason: str
    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    sync_problem: Problem | None = None
    conditions: tuple[ConditionState, ...] = ()


def with_problem(result: Outcome, problem: Problem | None) -> Outcome:
    """A terminal problem stalls the connection (Unprovisioned if nothing exists yet); a
    recoverable one leaves what the tenant sees alone and only marks it unsynced."""
    if problem is None:
        return result
    if problem.terminal:
        stuck = Phase.UNPROVISIONED if result.phase is Phase.ALLOCATING else result.phase
        return replace(
            result,
            phase=stuck,
            progress=Progress.STALLED,
            reason=problem.reason,
            message=problem.message,
            sync_problem=None,
        )
    return replace(result, sync_problem=problem)


def awaiting_capacity(result: Outcome, ahead: int) -> Outcome:
    """The connection waits for the operator's AWS budget: not a failure, just a queue."""
    message = f"Waiting for AWS capacity: {ahead} ahead of you in this region. {result.message}"
    return replace(result, message=message, sync_problem=None)


def render_status(
    generation: int, result: Outcome, previous: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The full status stanza for `result`, merged with the stored conditions."""
    conditions = kstatus(result.progress, result.reason, result.message)
    problem = result.sync_problem
    conditions.append(synced(problem.reason, problem.message) if problem else synced())
    conditions += result.conditions
    return {
        "phase": result.phase.value,
        **result.fields,
        "message": result.message,
        "observedGeneration": generation,
        "lastSyncTime": timestamp(now),
        "conditions": merge(
            previous.get("conditions") or [], conditions, generation=generation, now=now
        ),
    }


def unsynced_status(
    previous: Mapping[str, Any], problem: Problem, generation: int, now: datetime
) -> dict[str, Any] | None:
    """AWS could not be read: everything the tenant sees stays as last observed, only
    Synced says why it may be stale. None when that is already what is stored."""
    state = synced(problem.reason, problem.message)
    conditions = with_condition(
        previous.get("conditions") or [], state, generation=generation, now=now
    )
    return status_changes(previous, {"conditions": conditions}, touch=True)


def invalid_status(
    previous: Mapping[str, Any], generation: int, message: str, now: datetime, *, touch: bool
) -> dict[str, Any] | None:
    """Status patch for an object whose spec cannot be parsed (Stalled, no AWS calls)."""
    conditions = kstatus(Progress.STALLED, "InvalidSpec", message)
    status = {
        "message": message,
        "observedGeneration": generation,
        "lastSyncTime": timestamp(now),
        "conditions": merge(
            previous.get("conditions") or [], conditions, generation=generation, now=now
        ),
    }
    return status_changes(previous, status, touch=touch)


def status_changes(
    previous: Mapping[str, Any], new: Mapping[str, Any], *, touch: bool
) -> dict[str, Any] | None:
    """The merge patch that turns `previous` into `new`, or None when nothing but the
    sync time would change and `touch` is False (so a no-op poll writes nothing)."""
    changed = {k: v for k, v in new.items() if _differs(previous.get(k), v)}
    if not touch:
        changed.pop("lastSyncTime", None)
        if not changed:
            return None
        if "lastSyncTime" in new:
            changed["lastSyncTime"] = new["lastSyncTime"]
    return changed or None


def _differs(old: Any, new: Any) -> bool:
    """None, an absent key and an empty list are the same thing once stored."""
    if old in (None, []) and new in (None, []):
        return False
    return bool(old != new)


def stalled_by_tenant(status: Mapping[str, Any], generation: int) -> bool:
    """The last attempt at this very generation failed in a way only the tenant can fix
    (stored in status, so not even a restart retries it)."""
    conditions = status.get("conditions") or []
    stalled: Mapping[str, Any] = next((c for c in conditions if c.get("type") == STALLED), {})
    return (
        stalled.get("status") == "True"
        and stalled.get("reason") in TENANT_TERMINAL_REASONS
        and stalled.get("observedGeneration") == generation
    )


def is_synced(status: Mapping[str, Any]) -> bool:
    """Whether the stored status says its last AWS check succeeded (or never failed)."""
    found = next((c for c in status.get("conditions") or [] if c.get("type") == SYNCED), None)
    return found is None or found.get("status") == "True"
