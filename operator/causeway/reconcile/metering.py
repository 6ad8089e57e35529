"""Metering maths (pure): the UTC hour and day a moment falls in, a tenant's data
allowance, its usage summed from each endpoint's hourly bytes, and whether its
outbound traffic is blocked and until when.

Units are decimal, as AWS bills data: 1 MB = 10^6 bytes, 1 GB = 10^9 bytes, so the
default hourly limit of 56480 MB is 56.48 GB. Limits are reached at the limit itself:
a tenant whose outbound bytes this hour equal the limit is blocked (no grace), and
one whose bytes today equal its allocation has used all of it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from causeway.domain import Direction

MB = 10**6
GB = 10**9
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Periods:
    """The UTC hour and UTC day one moment falls in (their starts)."""

    hour: datetime
    day: datetime

    @property
    def next_hour(self) -> datetime:
        return self.hour + HOUR

    @property
    def next_day(self) -> datetime:
        return self.day + DAY


def periods(now: datetime) -> Periods:
    """The hour and day of `now`, in UTC whatever zone `now` is in (naive = UTC)."""
    moment = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return Periods(hour=hour, day=hour.replace(hour=0))


@dataclass(frozen=True)
class Allowance:
    """What a tenant may use: its daily allocation (soft) and the hourly limits (the
    outbound one hard, the inbound one soft)."""

    daily_bytes: int
    hourly_outbound_bytes: int
    hourly_inbound_bytes: int


def allowance(
    licenses: int, data_packs: int, *, gb_per_unit_per_day: int, hourly_limit_mb: int
) -> Allowance:
    """gbPerUnitPerDay GB per license and per data pack, shared by every connection."""
    hourly = hourly_limit_mb * MB
    return Allowance(
        daily_bytes=gb_per_unit_per_day * (licenses + data_packs) * GB,
        hourly_outbound_bytes=hourly,
        hourly_inbound_bytes=hourly,
    )


@dataclass(frozen=True)
class Series:
    """One endpoint's bytes per UTC hour (keyed by the hour's start), as CloudWatch
    reports them, and whose they are."""

    namespace: str
    direction: Direction
    hourly: Mapping[datetime, float]


@dataclass(frozen=True)
class Usage:
    """A tenant's bytes in the hour and day of `periods`: outbound and inbound this
    hour, and both directions together today."""

    periods: Periods
    outbound_hour: int = 0
    inbound_hour: int = 0
    day: int = 0


@dataclass
class _Sums:
    outbound_hour: float = 0.0
    inbound_hour: float = 0.0
    day: float = 0.0


def tally(series: Iterable[Series], at: Periods, tenants: Iterable[str] = ()) -> dict[str, Usage]:
    """Each tenant's usage in the hour and day of `at`. `tenants` get a (zero) usage
    even without a series: measured, and nothing used."""
    sums: dict[str, _Sums] = {tenant: _Sums() for tenant in tenants}
    for one in series:
        total = sums.setdefault(one.namespace, _Sums())
        for hour, value in one.hourly.items():
            if not at.day <= _utc(hour) < at.next_day:
                continue  # another day's hours (a query may reach back across midnight)
            total.day += value
            if _utc(hour) == at.hour:
                if one.direction is Direction.OUTBOUND:
                    total.outbound_hour += value
                else:
                    total.inbound_hour += value
    return {
        tenant: Usage(at, round(s.outbound_hour), round(s.inbound_hour), round(s.day))
        for tenant, s in sums.items()
    }


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def outbound_blocked_until(usage: Usage, limits: Allowance) -> datetime | None:
    """The top of the usage's hour when its outbound bytes reached the hourly limit (the
    tenant's outbound endpoints pass nothing until then), else None."""
    if usage.outbound_hour >= limits.hourly_outbound_bytes:
        return usage.periods.next_hour
    return None


def whole_mb(byte_count: int) -> int:
    """Bytes as whole MB, rounded down: what status shows."""
    return max(0, byte_count) // MB


def remaining_mb(limit_bytes: int, used_bytes: int) -> int:
    """The limit less what is used, in the whole MB status shows (so max = used +
    remaining, and it moves only when a shown figure does); 0 once it is reached."""
    if used_bytes >= limit_bytes:
        return 0
    return max(0, whole_mb(limit_bytes) - whole_mb(used_bytes))


def level(used: int, limit: int) -> int:
    """The highest threshold (80 or 100 percent) of `limit` that `used` reached, else 0.
    Anything used of a zero allowance is all of it."""
    if used >= limit and (limit > 0 or used > 0):
        return 100
    if limit > 0 and used * 100 >= limit * 80:
        return 80
    return 0


def crossing(used: int, limit: int, previous_used: int | None) -> int | None:
    """The threshold `used` reached that `previous_used` had not, in the same period
    (None: nothing shown before in this period). Each threshold is announced once per
    period, even across restarts, because `previous_used` comes from the stored status."""
    now = level(used, limit)
    before = 0 if previous_used is None else level(previous_used, limit)
    return now if now > before else None
