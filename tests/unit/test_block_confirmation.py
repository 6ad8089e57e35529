"""A tenant's block is reported in effect only as AWS's listing shows it: metering
decides, the region pass takes the rules off the tenant's groups, and only a listing
taken after the decision that shows none of the tenant's endpoints letting traffic in
(in every region where it has one) turns OutboundBlocked to True."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from causeway.controllers.meter import Meter
from causeway.domain import Endpoint, SecurityGroup
from causeway.reconcile.enforcement import open_endpoints
from causeway.reconcile.metering import Allowance, Usage, periods
from causeway.reconcile.usage import usage_status

NOW = datetime(2026, 11, 28, 14, 20, tzinfo=UTC)
UNTIL = datetime(2026, 11, 28, 15, tzinfo=UTC)
LIMITS = Allowance(daily_bytes=10**10, hourly_outbound_bytes=10**9, hourly_inbound_bytes=10**9)
RULE = ("tcp", 443, 443, "cidr", "10.0.0.0/16")
OPEN = SecurityGroup("sg-acme", "vpc-1", frozenset({RULE}), "acme")
CLOSED = SecurityGroup("sg-acme", "vpc-1", frozenset(), "acme", blocked_until=UNTIL)
BETA = SecurityGroup("sg-beta", "vpc-1", frozenset({RULE}), "beta")


def endpoint(vpce: str, group: str, namespace: str = "acme") -> Endpoint:
    return Endpoint(
        vpce, "available", "svc", owner_uid="u", owner_namespace=namespace, security_groups=(group,)
    )


LISTING = [
    endpoint("vpce-1", "sg-acme"),
    endpoint("vpce-2", "sg-acme"),
    endpoint("vpce-3", "sg-beta", "beta"),
]


def outbound_blocked(meter: Meter) -> tuple[str, str]:
    conditions = usage_status(LIMITS, meter.reading("acme", NOW), NOW).conditions
    found = next(c for c in conditions if c.type == "OutboundBlocked")
    return ("True" if found.status else "False", found.reason)


def seen(meter: Meter, region: str, groups: list[SecurityGroup], at: float) -> None:
    by_id = {g.id: g for g in groups}
    still_open = open_endpoints(LISTING, by_id, partial(meter.blocked_until, now=NOW))
    present = {e.owner_namespace for e in LISTING if e.owner_namespace}
    meter.enforcement_seen(region, still_open, present, at)


def blocked_meter() -> Meter:
    meter = Meter()
    meter.measured("acme", Usage(periods(NOW), outbound_hour=2 * 10**9), NOW)
    meter.block("acme", UNTIL, 1.0)
    return meter


def test_outbound_blocked_follows_what_the_listing_shows() -> None:
    meter = blocked_meter()
    seen(meter, "us-east-1", [OPEN, BETA], 2.0)
    assert outbound_blocked(meter) == ("False", "BlockInProgress")

    seen(meter, "us-east-1", [CLOSED, BETA], 3.0)
    assert outbound_blocked(meter) == ("True", "HourlyLimitReached")


def test_a_listing_taken_before_the_decision_never_confirms_the_block() -> None:
    """The defect: the count came from a pass that ran before the block and counted
    nothing to block, so the quota said blocked before AWS did."""
    meter = Meter()
    meter.measured("acme", Usage(periods(NOW), outbound_hour=2 * 10**9), NOW)
    seen(meter, "us-east-1", [OPEN, BETA], 0.5)  # not blocked yet
    meter.block("acme", UNTIL, 1.0)
    assert outbound_blocked(meter) == ("False", "BlockInProgress")

    seen(meter, "us-east-1", [CLOSED, BETA], 2.0)
    assert outbound_blocked(meter) == ("True", "HourlyLimitReached")


def test_every_region_with_an_endpoint_of_the_tenant_counts() -> None:
    meter = blocked_meter()
    seen(meter, "us-east-1", [CLOSED, BETA], 2.0)
    seen(meter, "eu-west-1", [OPEN, BETA], 2.0)
    assert outbound_blocked(meter) == ("False", "BlockInProgress")

    # An endpoint whose group is not listed is not known to let nothing in.
    seen(meter, "eu-west-1", [BETA], 3.0)
    assert outbound_blocked(meter) == ("False", "BlockInProgress")

    seen(meter, "eu-west-1", [CLOSED, BETA], 4.0)
    assert outbound_blocked(meter) == ("True", "HourlyLimitReached")


def test_a_tenant_whose_endpoints_were_not_listed_yet_is_not_taken_for_one_without() -> None:
    """The e2e test's find: the last listing came before the pass's work made the
    tenant's endpoints; the tenant counts as present (it has connections there), so that
    listing cannot confirm the block."""
    meter = Meter()
    meter.measured("acme", Usage(periods(NOW), outbound_hour=2 * 10**9), NOW)
    meter.enforcement_seen("us-east-1", {}, {"acme"}, 0.5)  # connections, no endpoint listed
    meter.block("acme", UNTIL, 1.0)
    assert outbound_blocked(meter) == ("False", "BlockInProgress")
