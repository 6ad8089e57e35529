"""The usage part of ConnectionQuota status (pure), read like a Limits API: what the
tenant may use (`hard`), what it used (`used`), max and remaining per limit, when
the windows reset, whether outbound traffic is blocked, and the conditions and
Events that go with them.

Figures are shown in whole MB (rounded down), so a busy tenant's status is rewritten
when a shown figure moves, not on every metering cycle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from causeway.conditions import ConditionState, timestamp
from causeway.reconcile.metering import (
    MB,
    Allowance,
    Usage,
    crossing,
    level,
    remaining_mb,
    whole_mb,
)
from causeway.reconcile.status import Problem

OUTBOUND_LIMIT = "PrivateConnectOutboundCalloutHourlyLimitMB"
INBOUND_LIMIT = "PrivateConnectInboundHourlyLimitMB"
DAILY_LIMIT = "PrivateConnectDailyDataAllocationMB"

METERED = "Metered"
OUTBOUND_BLOCKED = "OutboundBlocked"
DAILY_EXCEEDED = "DailyAllocationExceeded"
INBOUND_EXCEEDED = "InboundHourlyLimitExceeded"
HOURLY_LIMIT_REACHED = "HourlyLimitReached"
BLOCK_IN_PROGRESS = "BlockInProgress"
USAGE_CONDITIONS = (METERED, OUTBOUND_BLOCKED, DAILY_EXCEEDED, INBOUND_EXCEEDED)
# The status keys (and keys of `hard` and `used`) this module owns.
USAGE_FIELDS = ("limits", "resetsAt", "lastMeteredTime", "blockedUntil", "retiredEndpoints")
USAGE_AMOUNTS = ("dailyBytes", "hourlyOutboundBytes", "hourlyInboundBytes")


@dataclass(frozen=True)
class Reading:
    """What metering knows of one tenant now."""

    usage: Usage | None  # the latest measurement (None: not measured since start)
    measured_at: datetime | None = None
    problem: Problem | None = None  # the latest cycle could not measure this tenant
    blocked_until: datetime | None = None  # outbound blocked until then (None: open)
    unswapped_endpoints: int = 0  # of its endpoints, those AWS lists letting traffic in
    block_listed: bool = True  # AWS was listed after the block was decided, where it counts
    retired: tuple[Mapping[str, str], ...] = ()  # endpoints gone today whose bytes count


@dataclass(frozen=True)
class UsageStatus:
    """The status fields and conditions metering contributes."""

    fields: dict[str, Any]
    conditions: list[ConditionState] = field(default_factory=list)


def usage_status(limits: Allowance, reading: Reading, now: datetime) -> UsageStatus | None:
    """The usage part of the status; None when there is nothing new to say (not yet
    measured since the operator started, and no failure): what is stored stays."""
    usage = reading.usage
    if usage is None and reading.problem is None:
        return None
    fields: dict[str, Any] = {
        "hard": {
            "dailyBytes": limits.daily_bytes,
            "hourlyOutboundBytes": limits.hourly_outbound_bytes,
            "hourlyInboundBytes": limits.hourly_inbound_bytes,
        },
        "blockedUntil": _blocked(reading, now),
        "retiredEndpoints": [dict(e) for e in reading.retired],
    }
    conditions = [_metered(reading)]
    if usage is not None:
        fields |= _figures(limits, usage)
        if reading.measured_at is not None:
            fields["lastMeteredTime"] = timestamp(reading.measured_at)
        conditions += _limit_conditions(limits, usage, reading, now)
    else:
        # No figures since the start, but a block the endpoints' tags record is still
        # reported as AWS shows it, not left as the last operator wrote it.
        no_figures = "usage not read since the operator started"
        conditions += [c for c in [_block_condition(reading, now, no_figures)] if c]
    return UsageStatus(fields, conditions)


def _blocked(reading: Reading, now: datetime) -> str | None:
    until = reading.blocked_until
    return timestamp(until) if until is not None and until > now else None


def _figures(limits: Allowance, usage: Usage) -> dict[str, Any]:
    return {
        "used": {
            "dailyBytes": whole_mb(usage.day) * MB,
            "hourlyOutboundBytes": whole_mb(usage.outbound_hour) * MB,
            "hourlyInboundBytes": whole_mb(usage.inbound_hour) * MB,
        },
        "limits": {
            OUTBOUND_LIMIT: _limit(limits.hourly_outbound_bytes, usage.outbound_hour),
            INBOUND_LIMIT: _limit(limits.hourly_inbound_bytes, usage.inbound_hour),
            DAILY_LIMIT: _limit(limits.daily_bytes, usage.day),
        },
        "resetsAt": {
            "hour": timestamp(usage.periods.next_hour),
            "day": timestamp(usage.periods.next_day),
        },
    }


def _limit(limit_bytes: int, used_bytes: int) -> dict[str, int]:
    return {"max": whole_mb(limit_bytes), "remaining": remaining_mb(limit_bytes, used_bytes)}


def _metered(reading: Reading) -> ConditionState:
    if reading.problem is None:
        return ConditionState(METERED, True, METERED, "Usage is read from CloudWatch.")
    since = (
        f"the figures are from {timestamp(reading.measured_at)}"
        if reading.measured_at
        else "none read since the operator started (figures shown are as of lastMeteredTime)"
    )
    return ConditionState(
        METERED,
        False,
        reading.problem.reason,
        f"{reading.problem.message} Usage could not be read: {since}. A block stays until "
        "its hour ends, and none is started without figures.",
    )


def _block_condition(reading: Reading, now: datetime, hour_text: str) -> ConditionState | None:
    """OutboundBlocked for a block in force (None: none), as AWS's listing shows it:
    in progress until every endpoint has only the blocked group, then in effect."""
    until = reading.blocked_until
    if until is None or until <= now:
        return None
    if reading.unswapped_endpoints or not reading.block_listed:
        # Decided, not yet enforced: never claim a block AWS has not shown.
        shown = (
            f"AWS lists {reading.unswapped_endpoints} outbound endpoint(s) still letting traffic in"
            if reading.unswapped_endpoints
            else "AWS has not been listed since the block was decided"
        )
        return ConditionState(
            OUTBOUND_BLOCKED,
            False,
            BLOCK_IN_PROGRESS,
            f"Outbound traffic is being blocked until {timestamp(until)}: {hour_text}; "
            f"{shown}, so traffic may still pass.",
        )
    return ConditionState(
        OUTBOUND_BLOCKED,
        True,
        HOURLY_LIMIT_REACHED,
        f"Outbound traffic is blocked until {timestamp(until)}: {hour_text}; no outbound "
        "endpoint of this namespace passes traffic until then.",
    )


def _limit_conditions(
    limits: Allowance, usage: Usage, reading: Reading, now: datetime
) -> list[ConditionState]:
    out_mb, out_max = whole_mb(usage.outbound_hour), whole_mb(limits.hourly_outbound_bytes)
    in_mb, in_max = whole_mb(usage.inbound_hour), whole_mb(limits.hourly_inbound_bytes)
    day_mb, day_max = whole_mb(usage.day), whole_mb(limits.daily_bytes)
    hour_text = f"{out_mb} MB of the hourly outbound limit of {out_max} MB used this hour"
    blocked = _block_condition(reading, now, hour_text) or ConditionState(
        OUTBOUND_BLOCKED, False, "WithinHourlyLimit", f"{hour_text}."
    )
    day_over = level(usage.day, limits.daily_bytes) == 100
    daily = ConditionState(
        DAILY_EXCEEDED,
        day_over,
        DAILY_EXCEEDED if day_over else "WithinDailyAllocation",
        f"{day_mb} MB of the daily allocation of {day_max} MB used today"
        + ("; traffic is not blocked for it." if day_over else "."),
    )
    in_over = level(usage.inbound_hour, limits.hourly_inbound_bytes) == 100
    inbound = ConditionState(
        INBOUND_EXCEEDED,
        in_over,
        INBOUND_EXCEEDED if in_over else "WithinHourlyLimit",
        f"{in_mb} MB of the hourly inbound limit of {in_max} MB used this hour"
        + ("; inbound traffic is not blocked for it." if in_over else "."),
    )
    return [blocked, daily, inbound]


def carried(previous: Mapping[str, Any]) -> UsageStatus:
    """What is stored of the usage part, unchanged (nothing new to say)."""
    fields = {key: previous[key] for key in USAGE_FIELDS if key in previous}
    for group in ("hard", "used"):
        stored = previous.get(group) or {}
        amounts = {key: stored[key] for key in USAGE_AMOUNTS if key in stored}
        if amounts:
            fields[group] = amounts
    return UsageStatus(fields)


def kept_conditions(previous: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stored usage conditions, exactly as stored (for those metering has no news
    of: before its first figures, none of the limits' conditions)."""
    return [dict(c) for c in previous.get("conditions") or [] if c.get("type") in USAGE_CONDITIONS]


@dataclass(frozen=True)
class Announcement:
    """An Event to record on the quota."""

    reason: str
    message: str
    warning: bool


_ALLOWANCES = (
    # (key in used/hard, its period in resetsAt, Event at 80%, Event at 100%, what it is)
    ("dailyBytes", "day", "DailyAllocation80Percent", DAILY_EXCEEDED, "the daily allocation"),
    (
        "hourlyOutboundBytes",
        "hour",
        "OutboundHourlyLimit80Percent",
        HOURLY_LIMIT_REACHED,
        "the hourly outbound limit",
    ),
    (
        "hourlyInboundBytes",
        "hour",
        "InboundHourlyLimit80Percent",
        INBOUND_EXCEEDED,
        "the hourly inbound limit",
    ),
)


def announcements(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Announcement]:
    """Events for each allowance whose use reached 80% or 100% for the first time in
    its period: compared with what the stored status showed in the same period."""
    used, hard = current.get("used") or {}, current.get("hard") or {}
    resets = current.get("resetsAt") or {}
    before_used = previous.get("used") or {}
    before_resets = previous.get("resetsAt") or {}
    found = []
    for key, period, at_80, at_100, what in _ALLOWANCES:
        if key not in used or key not in hard or period not in resets:
            continue
        same_period = before_resets.get(period) == resets[period]
        earlier = before_used.get(key) if same_period else None
        reached = crossing(int(used[key]), int(hard[key]), earlier)
        if reached is None:
            continue
        text = (
            f"{whole_mb(int(used[key]))} MB used: {reached}% of {what} "
            f"({whole_mb(int(hard[key]))} MB); it resets at {resets[period]}."
        )
        full = reached == 100
        found.append(Announcement(at_100 if full else at_80, text, warning=full))
    return found
