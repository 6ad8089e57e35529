"""ConnectionQuota status (pure): the licence part (what the quota allows, what its
namespace's connections hold and wait for, whether it is over-licensed, and whether
it is the namespace's quota at all: the oldest one counts), joined with the usage
part from metering (reconcile/usage.py) into one status, so whoever writes it writes
all of it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from causeway.conditions import READY, STALLED, ConditionState, merge
from causeway.domain import Direction
from causeway.reconcile.admission import QuotaUse
from causeway.reconcile.status import status_changes
from causeway.reconcile.usage import UsageStatus, carried, kept_conditions

OVER_LICENSED = "OverLicensed"
# lastMeteredTime alone is rewritten this often at most: often enough to show metering
# is alive, rarely enough that a quiet tenant costs no write per cycle.
METERED_TIME_REFRESH = timedelta(minutes=10)


def quota_status(
    name: str,
    generation: int,
    use: QuotaUse | None,
    previous: Mapping[str, Any],
    now: datetime,
    *,
    usage: UsageStatus | None = None,
) -> dict[str, Any] | None:
    """The status patch for one ConnectionQuota, or None when nothing changed. `usage`
    None: metering has nothing new to say, and what is stored of it stays."""
    if use is None or use.quota is None or use.quota.name != name:
        status = _shadowed(name, use, generation, previous, now)
    else:
        status = _in_effect(use, usage, generation, previous, now)
    patch = status_changes(previous, status, touch=False)
    if patch and set(patch) == {"lastMeteredTime"} and not _metered_long_ago(previous, now):
        return None
    return patch


def _metered_long_ago(previous: Mapping[str, Any], now: datetime) -> bool:
    stored = previous.get("lastMeteredTime")
    if not stored:
        return True
    at = datetime.fromisoformat(str(stored).replace("Z", "+00:00"))
    return now - at >= METERED_TIME_REFRESH


def _in_effect(
    use: QuotaUse,
    usage: UsageStatus | None,
    generation: int,
    previous: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    fields = _usage_fields(carried(previous).fields, usage)
    over = use.over_licensed()
    message = _summary(use, over)
    conditions = [
        ConditionState(READY, True, "InEffect", message),
        ConditionState(STALLED, False, "InEffect", ""),
        ConditionState(
            OVER_LICENSED, bool(over), OVER_LICENSED if over else "WithinLicenses", _over(use, over)
        ),
    ]
    conditions += usage.conditions if usage is not None else []
    stored = merge(previous.get("conditions") or [], conditions, generation=generation, now=now)
    computed = {c.type for c in conditions}
    stored += [c for c in kept_conditions(previous) if c["type"] not in computed]
    return {
        **fields,
        "hard": {
            **fields.get("hard", {}),
            "outboundConnections": use.licenses,
            "inboundConnections": use.licenses,
        },
        "used": {
            **fields.get("used", {}),
            "outboundConnections": use.held[Direction.OUTBOUND],
            "inboundConnections": use.held[Direction.INBOUND],
        },
        "waiting": {
            "outboundConnections": use.waiting[Direction.OUTBOUND],
            "inboundConnections": use.waiting[Direction.INBOUND],
        },
        "message": message,
        "observedGeneration": generation,
        "conditions": stored,
    }


def _usage_fields(stored: dict[str, Any], usage: UsageStatus | None) -> dict[str, Any]:
    """What metering says now over what is stored: figures it has no news of (not
    measured since the start, or the latest cycle failed) stay as stored."""
    if usage is None:
        return stored
    fields = {**stored, **usage.fields}
    for group in ("hard", "used"):
        fields[group] = {**stored.get(group, {}), **usage.fields.get(group, {})}
    return fields


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
