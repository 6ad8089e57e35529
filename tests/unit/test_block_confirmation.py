"""A tenant's block is reported in effect only in the order AWS makes it so: metering
decides, the region pass tags and swaps the endpoints, and only the listing that shows
every endpoint with the blocked group alone turns OutboundBlocked to True."""

from __future__ import annotations

from datetime import UTC, datetime

from causeway.controllers.meter import Meter
from causeway.controllers.outbound import unswapped_endpoints
from causeway.domain import Endpoint
from causeway.reconcile.metering import Allowance, Usage, periods
from causeway.reconcile.usage import usage_status

NOW = datetime(2026, 11, 28, 14, 20, tzinfo=UTC)
UNTIL = datetime(2026, 11, 28, 15, tzinfo=UTC)
BLOCKED, OPEN = "sg-blocked", "sg-open"
LIMITS = Allowance(daily_bytes=10**10, hourly_outbound_bytes=10**9, hourly_inbound_bytes=10**9)


def endpoint(vpce: str, groups: tuple[str, ...], namespace: str = "acme") -> Endpoint:
    return Endpoint(
        vpce, "available", "svc", owner_uid="u", owner_namespace=namespace, security_groups=groups
    )


def outbound_blocked(meter: Meter) -> tuple[str, str]:
    conditions = usage_status(LIMITS, meter.reading("acme", NOW), NOW).conditions
    found = next(c for c in conditions if c.type == "OutboundBlocked")
    return ("True" if found.status else "False", found.reason)


def blocked_group(vpc_id: str) -> str:
    """Every endpoint here is in a transit VPC whose blocked group is BLOCKED."""
    return BLOCKED


def test_outbound_blocked_follows_what_the_listing_shows() -> None:
    meter = Meter()
    meter.measured("acme", Usage(periods(NOW), outbound_hour=2 * 10**9), NOW)
    meter.block("acme", UNTIL)
    listing = [
        endpoint("vpce-1", (OPEN,)),
        endpoint("vpce-2", (BLOCKED,)),
        endpoint("vpce-3", (OPEN,), namespace="beta"),
    ]  # beta is not blocked
    meter.swaps_seen("us-east-1", unswapped_endpoints(listing, meter, NOW, blocked_group))
    assert outbound_blocked(meter) == ("False", "BlockInProgress")

    swapped = [endpoint("vpce-1", (BLOCKED,)), endpoint("vpce-2", (BLOCKED,))]
    meter.swaps_seen("us-east-1", unswapped_endpoints(swapped, meter, NOW, blocked_group))
    assert outbound_blocked(meter) == ("True", "HourlyLimitReached")

    # Another region still shows one open: not in effect everywhere, not reported so.
    meter.swaps_seen(
        "eu-west-1", unswapped_endpoints([endpoint("vpce-9", (OPEN,))], meter, NOW, blocked_group)
    )
    assert outbound_blocked(meter) == ("False", "BlockInProgress")
