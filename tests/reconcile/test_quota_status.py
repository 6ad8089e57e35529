"""ConnectionQuota status as one pure function of the licences held and metering's
reading: the Limits-API figures in whole MB, the usage conditions, writes only when
a shown figure moves, what is stored kept while metering has nothing new, and the
80%/100% Events once per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from causeway.api.quota import ConnectionQuotaStatus
from causeway.domain import Direction
from causeway.reconcile.admission import Quota, QuotaUse
from causeway.reconcile.metering import GB, MB, Allowance, Usage, allowance, periods
from causeway.reconcile.quota import became_over_licensed, quota_status
from causeway.reconcile.status import Problem
from causeway.reconcile.usage import Reading, UsageStatus, announcements, usage_status

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 14, 20, tzinfo=UTC)
LIMITS = allowance(2, 3, gb_per_unit_per_day=5, hourly_limit_mb=56480)
LIMIT = LIMITS.hourly_outbound_bytes


def use(licenses: int, held_out: int, held_in: int = 0, waiting: int = 0) -> QuotaUse:
    quota = Quota("acme", "acme", "2026-11-01T00:00:00Z", licenses, frozenset())
    return QuotaUse(
        "acme",
        quota,
        (),
        {Direction.OUTBOUND: held_out, Direction.INBOUND: held_in},
        {Direction.OUTBOUND: waiting, Direction.INBOUND: 0},
    )


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_quota_status_reports_hard_used_and_waiting() -> None:
    status = quota_status("acme", 2, use(3, 2, 1, waiting=4), {}, T0)
    assert status is not None
    assert status["hard"] == {"outboundConnections": 3, "inboundConnections": 3}
    assert status["used"] == {"outboundConnections": 2, "inboundConnections": 1}
    assert status["waiting"]["outboundConnections"] == 4
    assert conditions(status)["Ready"]["status"] == "True"
    assert conditions(status)["OverLicensed"]["status"] == "False"
    assert ConnectionQuotaStatus.model_validate(status).used is not None
    assert quota_status("acme", 2, use(3, 2, 1, waiting=4), status, T0) is None


def test_over_licensed_is_reported_once_it_flips() -> None:
    within = quota_status("acme", 1, use(3, 3), {}, T0)
    assert within is not None
    over = quota_status("acme", 2, use(2, 3), within, T0)
    assert over is not None
    assert conditions(over)["OverLicensed"]["status"] == "True"
    assert (
        "3 outbound connections hold licenses but the quota has 2"
        in conditions(over)["OverLicensed"]["message"]
    )
    assert became_over_licensed(within, over)
    assert not became_over_licensed({**within, **over}, over)


def test_a_younger_second_quota_is_stalled_and_names_the_one_that_counts() -> None:
    status = quota_status("extra", 1, use(3, 0), {}, T0)
    assert status is not None
    assert conditions(status)["Stalled"]["reason"] == "DuplicateQuota"
    assert "ConnectionQuota acme" in status["message"]


# --- usage ---------------------------------------------------------------------------


def reading(out: int = 0, inbound: int = 0, day: int = 0, **extra: Any) -> Reading:
    usage = Usage(periods(NOW), outbound_hour=out, inbound_hour=inbound, day=day)
    return Reading(usage, measured_at=NOW, **extra)


def status_with(part: UsageStatus | None, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    patch = quota_status("acme", 1, use(2, 1, 1), previous or {}, NOW, usage=part)
    assert patch is not None
    return {**(previous or {}), **patch}


def test_usage_reads_like_a_limits_api() -> None:
    part = usage_status(LIMITS, reading(out=1_234_567_890, inbound=5 * MB, day=7 * GB), NOW)
    status = status_with(part)
    assert status["hard"] == {
        "outboundConnections": 2,
        "inboundConnections": 2,
        "dailyBytes": 25 * GB,
        "hourlyOutboundBytes": 56480 * MB,
        "hourlyInboundBytes": 56480 * MB,
    }
    assert status["used"] == {
        "outboundConnections": 1,
        "inboundConnections": 1,
        "dailyBytes": 7000 * MB,
        "hourlyOutboundBytes": 1234 * MB,  # whole MB, rounded down
        "hourlyInboundBytes": 5 * MB,
    }
    assert status["limits"] == {
        "PrivateConnectOutboundCalloutHourlyLimitMB": {"max": 56480, "remaining": 55246},
        "PrivateConnectInboundHourlyLimitMB": {"max": 56480, "remaining": 56475},
        "PrivateConnectDailyDataAllocationMB": {"max": 25000, "remaining": 18000},
    }
    assert status["resetsAt"] == {"hour": "2026-11-28T15:00:00Z", "day": "2026-11-29T00:00:00Z"}
    assert status["lastMeteredTime"] == "2026-11-28T14:20:00Z"
    found = conditions(status)
    assert {t: found[t]["status"] for t in found} == {
        "Ready": "True",
        "Stalled": "False",
        "OverLicensed": "False",
        "Metered": "True",
        "OutboundBlocked": "False",
        "DailyAllocationExceeded": "False",
        "InboundHourlyLimitExceeded": "False",
    }
    ConnectionQuotaStatus.model_validate(status)


def test_a_blocked_tenant_is_told_until_when() -> None:
    until = datetime(2026, 11, 28, 15, tzinfo=UTC)
    part = usage_status(LIMITS, reading(out=LIMIT, blocked_until=until), NOW)
    status = status_with(part)
    blocked = conditions(status)["OutboundBlocked"]
    assert (blocked["status"], blocked["reason"]) == ("True", "HourlyLimitReached")
    assert "blocked until 2026-11-28T15:00:00Z" in blocked["message"]
    assert status["blockedUntil"] == "2026-11-28T15:00:00Z"
    assert status["limits"]["PrivateConnectOutboundCalloutHourlyLimitMB"]["remaining"] == 0


def test_a_block_that_has_ended_is_not_shown() -> None:
    ended = datetime(2026, 11, 28, 14, tzinfo=UTC)
    status = status_with(usage_status(LIMITS, reading(blocked_until=ended), NOW))
    assert conditions(status)["OutboundBlocked"]["status"] == "False"
    assert status.get("blockedUntil") is None


def test_soft_limits_are_reported_not_enforced() -> None:
    part = usage_status(LIMITS, reading(inbound=LIMIT, day=25 * GB), NOW)
    found = conditions(status_with(part))
    assert found["DailyAllocationExceeded"]["status"] == "True"
    assert "not blocked" in found["DailyAllocationExceeded"]["message"]
    assert found["InboundHourlyLimitExceeded"]["status"] == "True"
    assert found["OutboundBlocked"]["status"] == "False"


def test_licenses_zero_and_no_packs_means_any_byte_exceeds_the_allocation() -> None:
    none = allowance(0, 0, gb_per_unit_per_day=5, hourly_limit_mb=56480)
    quiet = conditions(status_with(usage_status(none, reading(), NOW)))
    assert quiet["DailyAllocationExceeded"]["status"] == "False"
    busy = conditions(status_with(usage_status(none, reading(day=1), NOW)))
    assert busy["DailyAllocationExceeded"]["status"] == "True"


def test_nothing_is_written_while_no_shown_figure_moves() -> None:
    first = status_with(usage_status(LIMITS, reading(out=5 * MB), NOW))
    later = NOW + timedelta(minutes=1)
    same_mb = Reading(Usage(periods(later), 5 * MB + 999_999), measured_at=later)
    assert (
        quota_status(
            "acme", 1, use(2, 1, 1), first, later, usage=usage_status(LIMITS, same_mb, later)
        )
        is None
    )
    moved = Reading(Usage(periods(later), 6 * MB), measured_at=later)
    patch = quota_status(
        "acme", 1, use(2, 1, 1), first, later, usage=usage_status(LIMITS, moved, later)
    )
    assert patch is not None and patch["lastMeteredTime"] == "2026-11-28T14:21:00Z"


def test_the_metered_time_alone_is_refreshed_every_ten_minutes() -> None:
    first = status_with(usage_status(LIMITS, reading(out=5 * MB), NOW))
    later = NOW + timedelta(minutes=10)
    same = Reading(Usage(periods(later), 5 * MB), measured_at=later)
    patch = quota_status(
        "acme", 1, use(2, 1, 1), first, later, usage=usage_status(LIMITS, same, later)
    )
    assert patch == {"lastMeteredTime": "2026-11-28T14:30:00Z"}


def test_what_is_stored_stays_while_metering_has_nothing_new() -> None:
    stored = status_with(
        usage_status(LIMITS, reading(out=LIMIT, blocked_until=NOW + timedelta(minutes=40)), NOW)
    )
    # The operator restarted: the licence part is written before the first cycle.
    assert quota_status("acme", 1, use(2, 1, 1), stored, NOW) is None
    licence_change = quota_status("acme", 1, use(2, 2, 1), stored, NOW)
    assert licence_change is not None
    after = {**stored, **licence_change}
    assert after["used"]["hourlyOutboundBytes"] == LIMIT
    assert conditions(after)["OutboundBlocked"] == conditions(stored)["OutboundBlocked"]
    assert after["blockedUntil"] == stored["blockedUntil"]


def test_a_failed_cycle_keeps_the_figures_and_says_why() -> None:
    stored = status_with(usage_status(LIMITS, reading(out=7 * MB), NOW))
    problem = Problem("AwsUnavailable", "CloudWatch is unavailable (500).", False)
    failing = Reading(Usage(periods(NOW), 7 * MB), measured_at=NOW, problem=problem)
    later = NOW + timedelta(minutes=3)
    status = {
        **stored,
        **(
            quota_status(
                "acme", 1, use(2, 1, 1), stored, later, usage=usage_status(LIMITS, failing, later)
            )
            or {}
        ),
    }
    metered = conditions(status)["Metered"]
    assert (metered["status"], metered["reason"]) == ("False", "AwsUnavailable")
    assert "the figures are from 2026-11-28T14:20:00Z" in metered["message"]
    assert status["used"]["hourlyOutboundBytes"] == 7 * MB


def test_no_figures_yet_and_failing() -> None:
    problem = Problem("PlatformAccessDenied", "Not allowed.", False)
    status = status_with(usage_status(LIMITS, Reading(None, problem=problem), NOW))
    assert conditions(status)["Metered"]["status"] == "False"
    assert "none read since the operator started" in conditions(status)["Metered"]["message"]
    assert "limits" not in status and "OutboundBlocked" not in conditions(status)


def test_events_at_80_and_100_percent_once_per_period() -> None:
    hour = usage_status(LIMITS, reading(out=LIMIT * 8 // 10), NOW)
    first = status_with(hour)
    found = announcements({}, first)
    assert [(a.reason, a.warning) for a in found] == [("OutboundHourlyLimit80Percent", False)]
    assert "80% of the hourly outbound limit (56480 MB)" in found[0].message
    again = status_with(usage_status(LIMITS, reading(out=LIMIT * 9 // 10), NOW), first)
    assert announcements(first, again) == []
    full = status_with(usage_status(LIMITS, reading(out=LIMIT, day=26 * GB), NOW), again)
    assert [(a.reason, a.warning) for a in announcements(again, full)] == [
        ("DailyAllocationExceeded", True),
        ("HourlyLimitReached", True),
    ]
    next_hour = NOW + timedelta(hours=1)
    fresh = Reading(Usage(periods(next_hour), LIMIT * 8 // 10, 0, 26 * GB), measured_at=next_hour)
    after = status_with(usage_status(LIMITS, fresh, next_hour), full)
    # A new hour: its 80% is announced again; the day's 100% is not.
    assert [a.reason for a in announcements(full, after)] == ["OutboundHourlyLimit80Percent"]


def test_allowance_fields_are_whole_mb() -> None:
    odd = Allowance(daily_bytes=1_500_000, hourly_outbound_bytes=2_500_000, hourly_inbound_bytes=MB)
    status = status_with(usage_status(odd, reading(), NOW))
    assert status["limits"]["PrivateConnectDailyDataAllocationMB"] == {"max": 1, "remaining": 1}


def test_failing_before_any_figures_keeps_what_was_stored_before_a_restart() -> None:
    until = NOW + timedelta(minutes=40)
    stored = status_with(usage_status(LIMITS, reading(out=LIMIT, blocked_until=until), NOW))
    problem = Problem("AwsUnavailable", "CloudWatch is unavailable (500).", False)
    restarted = Reading(None, problem=problem, blocked_until=until)
    status = status_with(usage_status(LIMITS, restarted, NOW), stored)
    assert conditions(status)["Metered"]["status"] == "False"
    blocked, before = conditions(status)["OutboundBlocked"], conditions(stored)["OutboundBlocked"]
    assert (blocked["status"], blocked["reason"]) == (before["status"], before["reason"])
    assert "usage not read since the operator started" in blocked["message"]
    assert status["used"]["hourlyOutboundBytes"] == LIMIT
    assert status["blockedUntil"] == stored["blockedUntil"]


def test_a_block_in_progress_when_the_operator_stopped_is_confirmed_without_figures() -> None:
    """The last operator wrote BlockInProgress; the new one, with CloudWatch down, sees
    the tags and the swap in AWS's listing: the block is reported in effect, not left as
    stored (the defect: OutboundBlocked stayed False until CloudWatch came back)."""
    until = NOW + timedelta(minutes=40)
    in_progress = reading(out=LIMIT, blocked_until=until, unswapped_endpoints=1)
    stored = status_with(usage_status(LIMITS, in_progress, NOW))
    assert conditions(stored)["OutboundBlocked"]["reason"] == "BlockInProgress"
    problem = Problem("AwsUnavailable", "CloudWatch is unavailable (500).", False)
    restarted = Reading(None, problem=problem, blocked_until=until)
    status = status_with(usage_status(LIMITS, restarted, NOW), stored)
    blocked = conditions(status)["OutboundBlocked"]
    assert (blocked["status"], blocked["reason"]) == ("True", "HourlyLimitReached")


def test_a_decided_block_is_in_progress_until_aws_shows_it() -> None:
    """OutboundBlocked=True only once no endpoint of the tenant is seen open: metering
    decides first, the swap comes in a later pass."""
    until = datetime(2026, 11, 28, 15, tzinfo=UTC)
    pending = status_with(
        usage_status(LIMITS, reading(out=LIMIT, blocked_until=until, unswapped_endpoints=2), NOW)
    )
    blocked = conditions(pending)["OutboundBlocked"]
    assert (blocked["status"], blocked["reason"]) == ("False", "BlockInProgress")
    assert "being blocked until 2026-11-28T15:00:00Z" in blocked["message"]
    assert "2 outbound endpoint(s)" in blocked["message"]
    done = status_with(usage_status(LIMITS, reading(out=LIMIT, blocked_until=until), NOW))
    assert conditions(done)["OutboundBlocked"]["status"] == "True"
