"""ConnectionQuota status, the licence part (pure): what the quota allows, what its
namespace's connections hold and wait for, whether it is over-licensed, and whether
it is the namespace's quota at all (the oldest one counts)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from causeway.conditions import READY, STALLED, ConditionState, merge
from causeway.reconcile.admission import Direction, QuotaUse
from causeway.reconcile.status import status_changes

OVER_LICENSED = "OverLicensed"


def quota_status(
    name: str,
    generation: int,
    use: QuotaUse | None,
    previous: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """The status patch for one ConnectionQuota, or None when nothing changed."""
    if use is None or use.quota is None or use.quota.name != name:
        status = _shadowed(name, use, generation, previous, now)
    else:
        status = _in_effect(use, generation, previous, now)
    return status_changes(previous, status, touch=False)


def _in_effect(
    use: QuotaUse, generation: int, previous: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    over = use.over_licensed()
    message = _summary(use, over)
    conditions = [
        ConditionState(READY, True, "InEffect", message),
        ConditionState(STALLED, False, "InEffect", ""),
        ConditionState(
            OVER_LICENSED, bool(over), OVER_LICENSED if over else "WithinLicenses", _over(use, over)
        ),
    ]
    return {
        "hard": {
            "outboundConnections": use.licenses,
            "inboundConnections": use.licenses,
        },
        "used": {
            "outboundConnections": use.held[Direction.OUTBOUND],
            "inboundConnections": use.held[Direction.INBOUND],
        },
        "waiting": {
            "outboundConnections": use.waiting[Direction.OUTBOUND],
            "inboundConnections": use.waiting[Direction.INBOUND],
        },
        "message": message,
        "observedGeneration": generation,
        "conditions": merge(
            previous.get("conditions") or [], conditions, generation=generation, now=now
        ),
    }


def _shadowed(
    name: str, use: QuotaUse | None, generation: int, previous: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    effective = use.quota.name if use and use.quota else None
    message = (
        f"This namespace already has ConnectionQuota {effective} (the oldest counts); "
        f"{name} is ignored. Delete it, or move its settings into {effective}."
        if effective
        else f"ConnectionQuota {name} is not valid; see its spec."
    )
    conditions = [
        ConditionState(READY, False, "DuplicateQuota" if effective else "InvalidSpec", message),
        ConditionState(STALLED, True, "DuplicateQuota" if effective else "InvalidSpec", message),
    ]
    return {
        "message": message,
        "observedGeneration": generation,
        "conditions": merge(
            previous.get("conditions") or [], conditions, generation=generation, now=now
        ),
    }


def _summary(use: QuotaUse, over: list[Direction]) -> str:
    held_out, held_in = use.held[Direction.OUTBOUND], use.held[Direction.INBOUND]
    waiting = use.waiting[Direction.OUTBOUND] + use.waiting[Direction.INBOUND]
    text = (
        f"{use.licenses} licenses: {held_out} outbound and {held_in} inbound connections "
        "provisioned"
    )
    if waiting:
        text += f", {waiting} waiting for a license"
    return text + ("." if not over else "; over-licensed (see OverLicensed).")


def _over(use: QuotaUse, over: list[Direction]) -> str:
    if not over:
        return "Every provisioned connection is within the licenses."
    parts = [f"{use.held[d]} {d.value}" for d in over]
    return (
        f"{' and '.join(parts)} connections hold licenses but the quota has {use.licenses}; "
        "nothing is torn down: delete or unprovision connections, or raise licenses."
    )


def became_over_licensed(previous: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """Whether this patch flips OverLicensed to True (worth a Warning event)."""

    def over(conditions: Any) -> bool:
        return any(
            c.get("type") == OVER_LICENSED and c.get("status") == "True" for c in conditions or []
        )

    return over(patch.get("conditions")) and not over(previous.get("conditions"))
