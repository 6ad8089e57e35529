"""The quota maths as a table: UTC periods and their rollover, allowances from
licenses and data packs, usage summed per tenant, the hard outbound limit (exactly at
it, one byte over, one byte under), and the thresholds announced once per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from causeway.domain import Direction
from causeway.reconcile.metering import (
    GB,
    MB,
    Allowance,
    Periods,
    Series,
    Usage,
    allowance,
    crossing,
    level,
    outbound_blocked_until,
    periods,
    remaining_mb,
    tally,
    whole_mb,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "hour", "day"),
    [
        ("2026-11-28T14:37:12", "2026-11-28T14:00:00", "2026-11-28T00:00:00"),
        ("2026-11-28T14:00:00", "2026-11-28T14:00:00", "2026-11-28T00:00:00"),
        ("2026-11-28T14:59:59.999999", "2026-11-28T14:00:00", "2026-11-28T00:00:00"),
        ("2026-11-28T23:59:59", "2026-11-28T23:00:00", "2026-11-28T00:00:00"),
        ("2026-11-29T00:00:00", "2026-11-29T00:00:00", "2026-11-29T00:00:00"),
        ("2026-12-31T23:30:00", "2026-12-31T23:00:00", "2026-12-31T00:00:00"),
        ("2028-02-29T12:00:00", "2028-02-29T12:00:00", "2028-02-29T00:00:00"),
    ],
)
def test_periods_are_utc_hours_and_days(now: str, hour: str, day: str) -> None:
    found = periods(at(now))
    assert (found.hour, found.day) == (at(hour), at(day))
    assert found.next_hour == at(hour) + timedelta(hours=1)
    assert found.next_day == at(day) + timedelta(days=1)


def test_periods_ignore_the_zone_a_moment_is_written_in() -> None:
    tokyo = datetime(2026, 11, 29, 8, 30, tzinfo=timezone(timedelta(hours=9)))
    assert periods(tokyo) == Periods(at("2026-11-28T23:00:00"), at("2026-11-28T00:00:00"))
    assert periods(datetime(2026, 11, 28, 23, 30)) == periods(at("2026-11-28T23:30:00"))


@pytest.mark.parametrize(
    ("licenses", "packs", "gb", "daily"),
    [
        (0, 0, 5, 0),
        (1, 0, 5, 5 * GB),
        (2, 3, 5, 25 * GB),
        (0, 4, 5, 20 * GB),
        (10, 100, 5, 550 * GB),
        (2, 3, 7, 35 * GB),
    ],
)
def test_the_daily_allocation_is_gb_per_unit_times_licenses_plus_packs(
    licenses: int, packs: int, gb: int, daily: int
) -> None:
    found = allowance(licenses, packs, gb_per_unit_per_day=gb, hourly_limit_mb=56480)
    assert found == Allowance(daily, 56480 * MB, 56480 * MB)


def test_the_default_hourly_limit_is_56_48_decimal_gb() -> None:
    assert allowance(1, 0, gb_per_unit_per_day=5, hourly_limit_mb=56480).hourly_outbound_bytes == (
        56_480_000_000
    )


HOUR = at("2026-11-28T14:00:00")
NOW = periods(HOUR + timedelta(minutes=20))


def series(ns: str, direction: Direction, hours: dict[int, float]) -> Series:
    """Bytes by hour of the test day (2026-11-28)."""
    return Series(ns, direction, {HOUR.replace(hour=h): v for h, v in hours.items()})


def test_tally_sums_each_tenant_by_hour_and_day() -> None:
    found = tally(
        [
            series("acme", Direction.OUTBOUND, {13: 100.0, 14: 30.0}),
            series("acme", Direction.OUTBOUND, {14: 20.0}),
            series("acme", Direction.INBOUND, {9: 7.0, 14: 5.0}),
            series("globex", Direction.INBOUND, {14: 1.0}),
        ],
        NOW,
    )
    assert found["acme"] == Usage(NOW, outbound_hour=50, inbound_hour=5, day=162)
    assert found["globex"] == Usage(NOW, outbound_hour=0, inbound_hour=1, day=1)


def test_tally_leaves_out_other_days_and_counts_quiet_tenants_as_zero() -> None:
    yesterday = Series("acme", Direction.OUTBOUND, {at("2026-11-27T23:00:00"): 999.0})
    found = tally(
        [yesterday, series("acme", Direction.OUTBOUND, {0: 1.0, 14: 2.0})],
        NOW,
        tenants=["acme", "quiet"],
    )
    assert found["acme"] == Usage(NOW, outbound_hour=2, inbound_hour=0, day=3)
    assert found["quiet"] == Usage(NOW)


def test_the_first_hour_of_a_day_starts_both_counts_again() -> None:
    midnight = periods(at("2026-11-29T00:05:00"))
    late = Series(
        "acme",
        Direction.OUTBOUND,
        {at("2026-11-28T23:00:00"): 5 * GB, at("2026-11-29T00:00:00"): 3.0},
    )
    assert tally([late], midnight)["acme"] == Usage(midnight, 3, 0, 3)


LIMIT = 56480 * MB
LIMITS = Allowance(25 * GB, LIMIT, LIMIT)


@pytest.mark.parametrize(
    ("outbound", "blocked"),
    [
        (0, False),
        (LIMIT - 1, False),
        (LIMIT, True),  # reaching the limit blocks: no grace
        (LIMIT + 1, True),
        (10 * LIMIT, True),
    ],
)
def test_the_outbound_limit_blocks_from_the_byte_it_is_reached(
    outbound: int, blocked: bool
) -> None:
    usage = Usage(NOW, outbound_hour=outbound, inbound_hour=10 * LIMIT, day=100 * LIMIT)
    expected = at("2026-11-28T15:00:00") if blocked else None
    assert outbound_blocked_until(usage, LIMITS) == expected


def test_inbound_and_daily_use_never_block() -> None:
    usage = Usage(NOW, outbound_hour=0, inbound_hour=10 * LIMIT, day=100 * LIMIT)
    assert outbound_blocked_until(usage, LIMITS) is None


def test_a_block_lasts_until_the_top_of_the_next_hour_even_at_its_last_second() -> None:
    last = periods(at("2026-11-28T23:59:59"))
    assert outbound_blocked_until(Usage(last, outbound_hour=LIMIT), LIMITS) == at(
        "2026-11-29T00:00:00"
    )


@pytest.mark.parametrize(
    ("used", "limit", "shown", "remaining"),
    [
        (0, LIMIT, 0, 56480),
        (999_999, LIMIT, 0, 56480),
        (1_000_000, LIMIT, 1, 56479),
        (LIMIT - 1, LIMIT, 56479, 1),
        (LIMIT, LIMIT, 56480, 0),
        (LIMIT + 1, LIMIT, 56480, 0),
        (5, 0, 0, 0),
    ],
)
def test_figures_are_whole_mb_rounded_down(
    used: int, limit: int, shown: int, remaining: int
) -> None:
    assert whole_mb(used) == shown
    assert remaining_mb(limit, used) == remaining


@pytest.mark.parametrize(
    ("used", "limit", "expected"),
    [
        (0, 100, 0),
        (79, 100, 0),
        (80, 100, 80),
        (99, 100, 80),
        (100, 100, 100),
        (101, 100, 100),
        (0, 0, 0),  # no allocation and nothing used: nothing to say
        (1, 0, 100),  # anything of a zero allocation is all of it
    ],
)
def test_levels(used: int, limit: int, expected: int) -> None:
    assert level(used, limit) == expected


@pytest.mark.parametrize(
    ("used", "previous", "expected"),
    [
        (50, None, None),
        (80, None, 80),
        (80, 79, 80),
        (85, 80, None),  # already announced in this period
        (100, 85, 100),
        (120, 50, 100),  # both passed in one cycle: the higher one is announced
        (120, 100, None),
        (10, 100, None),  # not a crossing: a new period shows previous None instead
    ],
)
def test_each_threshold_is_announced_once_per_period(
    used: int, previous: int | None, expected: int | None
) -> None:
    assert crossing(used, 100, previous) == expected
