"""Benchmark: the hourly block and the top-of-the-hour reopen at scale, with the real
operator (in-process, its clock injected so the hour can be crossed) against the
embedded sandbox, which refuses every call over EC2's documented request buckets
(RequestLimitExceeded, as EC2 does) once the endpoints exist.

Per row: the time from the crossing (the bytes CloudWatch holds) to every endpoint of
the tenant letting no traffic in, and to the quota saying so; the time from the top of
the hour to every endpoint letting traffic in again; the AWS calls each took, by
action. Rows: one tenant with 1, 100 and 500 endpoints, and 100 tenants of 10
endpoints each, in as few transit VPCs as hold them (the sandbox's subnets are /24s:
250 endpoints a VPC, its endpoints-per-VPC quota raised to that, as AWS allows),
all blocked, reopened at the top of the hour together. Setup (creating the endpoints)
is not throttled and not measured: creation at the documented rate is bounded by
CreateVpcEndpoint's bucket, (N - 4) / 0.3 seconds, whatever the operator does.
The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/enforcement.py                   # every row (~15 min)
    uv run python bench/enforcement.py --rows 1 100 --output /tmp/enforcement.json
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from causeway.sandbox.clock import SandboxClock
from causeway.sandbox.stack import SandboxStack
from common import REGION, outbound, run_all, wait_until

START = datetime(2026, 11, 28, 14, 10, tzinfo=UTC)
TOP_OF_THE_HOUR = datetime(2026, 11, 28, 15, 0, 1, tzinfo=UTC)
LIMIT_BYTES = 56480 * 10**6  # the hourly outbound limit of one data pack
METERING_SECONDS = 1.0
PER_VPC = 250  # a /24 subnet's free addresses, less a few: one per endpoint
# The operator's own budget: its defaults (AWS's documented buckets) for every call the
# block and the reopen make; generous only for the setup's (creating the endpoints).
SETUP = ("CreateVpcEndpoint", "CreateSecurityGroup", "DescribeVpcEndpointServices")
FAST = {action: (1000, 1000.0) for action in SETUP}
ENFORCING = (
    "CreateTags",
    "RevokeSecurityGroupIngress",
    "AuthorizeSecurityGroupIngress",
    "ModifyVpcEndpoint",
    "DescribeSecurityGroups",
    "DescribeVpcEndpoints",
)


def row_shape(row: int) -> tuple[int, int]:
    """(tenants, endpoints per tenant): 1,000 means 100 tenants of 10."""
    return (100, 10) if row == 1000 else (1, row)


def run_row(row: int) -> dict[str, Any]:
    tenants, each = row_shape(row)
    total = tenants * each
    names = [f"tenant-{t:03d}" for t in range(tenants)]
    clock = SandboxClock(START, frozen=True)
    with SandboxStack(
        region=REGION,
        poll_interval="1s",
        namespaces=names,
        clock=clock,
        metering_seconds=METERING_SECONDS,
        aws_budget=FAST,
        transit_vpcs=math.ceil(total / PER_VPC),
        max_endpoints=PER_VPC,
    ) as stack:
        stack.aws.set_endpoint_quota(PER_VPC)
        for name in names:
            stack.grant_quota(name, licenses=each, data_packs=1)
        stack.start_operator()
        service = stack.aws.create_tenant_service(acceptance_required=False)
        for name in names:
            for i in range(each):
                stack.kube.apply(outbound(name, f"conn-{i:03d}", service.service_name))
        endpoints = _wait_ready(stack, names, total)
        # From here on the sandbox throttles as AWS documents (the operator's own
        # budget stays generous: AWS's answers are what pace it).
        stack.aws.limit_as_documented()
        stack.aws.reset_call_counts()
        throttled = stack.aws.throttled_counts()
        crossed = time.monotonic()
        for vpce, vpc in endpoints:
            share = LIMIT_BYTES // each + 1
            stack.aws.put_endpoint_bytes(
                vpce, service.service_name, vpc, share, START - timedelta(minutes=1)
            )
        ids = [vpce for vpce, _ in endpoints]
        vpcs = len({vpc for _, vpc in endpoints})
        closed = _until(lambda: not any(stack.aws.endpoint_lets_traffic_in(v) for v in ids))
        to_closed = time.monotonic() - crossed
        _until(lambda: all(_blocked(stack, n) for n in names))
        to_reported = time.monotonic() - crossed
        block_calls = _calls(stack, throttled)
        print(f"{total} endpoints ({tenants} tenants): closed in {to_closed:.1f} s")

        stack.aws.reset_call_counts()
        throttled = stack.aws.throttled_counts()
        clock.jump_to(TOP_OF_THE_HOUR)
        hour = time.monotonic()
        _until(lambda: all(stack.aws.endpoint_lets_traffic_in(v) for v in ids))
        to_reopened = time.monotonic() - hour
        reopen_calls = _calls(stack, throttled)
        print(f"{total} endpoints ({tenants} tenants): reopened in {to_reopened:.1f} s")
    return {
        "tenants": tenants,
        "endpoints": total,
        "transit_vpcs": vpcs,
        "metering_interval_seconds": METERING_SECONDS,
        "crossing_to_all_closed_seconds": round(to_closed, 2),
        "all_closed": closed,
        "crossing_to_quota_blocked_seconds": round(to_reported, 2),
        "block_aws_calls": block_calls,
        "hour_to_all_reopened_seconds": round(to_reopened, 2),
        "reopen_aws_calls": reopen_calls,
        "create_floor_at_documented_rate_seconds": round(max(0, total - 4) / 0.3, 1),
    }


def _wait_ready(stack: SandboxStack, names: list[str], total: int) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def ready() -> bool:
        found.clear()
        for name in names:
            for body in stack.kube.list("outboundconnections", name):
                status = body.get("status") or {}
                if status.get("phase") == "Ready":
                    found.append((status["vpcEndpointId"], status["transitVpcId"]))
        return len(found) == total

    wait_until(ready, 120 + total, f"{total} Ready", step=max(0.2, total / 1000))
    return list(found)


def _blocked(stack: SandboxStack, namespace: str) -> bool:
    body = stack.kube.get("connectionquotas", namespace, namespace) or {}
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c["type"] == "OutboundBlocked" and c["status"] == "True" for c in conditions)


def _until(probe: Callable[[], bool], timeout: float = 600.0) -> bool:
    wait_until(probe, timeout, "enforcement", step=0.05)
    return True


def _calls(stack: SandboxStack, throttled_before: dict[str, int]) -> dict[str, Any]:
    """The calls since the call counts were reset, and the throttled answers since
    `throttled_before` (the sandbox counts those from its start)."""
    counts = stack.aws.call_counts()
    throttled = {a: n - throttled_before.get(a, 0) for a, n in stack.aws.throttled_counts().items()}
    return {
        "by_action": {a: counts[a] for a in ENFORCING if counts.get(a)},
        "throttled": {a: n for a, n in sorted(throttled.items()) if n},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 100, 500, 1000])
    parser.add_argument("--output", type=Path, default=Path("bench/results-enforcement.json"))
    args = parser.parse_args()
    return run_all(args.rows, run_row, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
