"""Benchmark: the real operator (`causeway run`, its own process) against a sandbox that
throttles CreateVpcEndpoint as EC2 does (a token bucket; RequestLimitExceeded when it
is empty), with the operator's budget set to the same bucket.

Scenarios: the one measured before the budget existed (30 connections, a bucket of 4
refilled at 0.3/s), then N connections of two tenants of very different sizes (one
with N - 10, one with 10 applied a few seconds later). Reports, per scenario: time
from apply to all Ready against the floor the bucket allows ((N - burst) / rate),
RequestLimitExceeded answers, and per tenant the p50/p99 wait from apply to Ready.
The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/throttled.py          # ~12 min
    uv run python bench/throttled.py --sizes 100 --rate 2 --output /tmp/t.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SandboxStack
from common import POLL_INTERVAL_S, REGION, peak_rss_mib, report, stop, wait_until

OUTBOUND = "outboundconnections"
BURST = 4
SMALL = 10
SMALL_DELAY_S = 5.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 1)


def run(counts: dict[str, int], rate: float, *, delay_small: bool) -> dict[str, Any]:
    total = sum(counts.values())
    with (
        SandboxStack(
            region=REGION,
            poll_interval=f"{POLL_INTERVAL_S}s",
            namespaces=list(counts),
            aws_budget={"CreateVpcEndpoint": (BURST, rate)},
        ) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stack.aws.limit("CreateVpcEndpoint", BURST, rate)
        service = stack.aws.create_tenant_service(acceptance_required=False)
        for tenant, count in counts.items():
            stack.grant_quota(tenant, licenses=count)
        operator = stack.start_operator_process(Path(tmp), extra_args=["-v"])
        applied: dict[tuple[str, str], float] = {}
        ready: dict[tuple[str, str], float] = {}
        try:
            started = time.monotonic()
            for tenant, count in counts.items():
                if delay_small and tenant == "small":
                    time.sleep(SMALL_DELAY_S)
                for i in range(count):
                    name = f"conn-{i:05d}"
                    stack.kube.apply(
                        {
                            "apiVersion": "causeway.dev/v1alpha1",
                            "kind": "OutboundConnection",
                            "metadata": {"name": name, "namespace": tenant},
                            "spec": {"region": REGION, "serviceName": service.service_name},
                        }
                    )
                    applied[(tenant, name)] = time.monotonic()

            def all_ready() -> bool:
                now = time.monotonic()
                for tenant in counts:
                    for body in stack.kube.list(OUTBOUND, tenant):
                        key = (tenant, body["metadata"]["name"])
                        if (body.get("status") or {}).get("phase") == "Ready":
                            ready.setdefault(key, now)
                return len(ready) == total

            floor = (total - BURST) / rate
            wait_until(all_ready, 3 * floor + 120, f"{total} Ready", step=0.5)
            took = time.monotonic() - started
            rss = peak_rss_mib(operator.pid)
        finally:
            stop(operator)
        throttled = stack.aws.throttled_counts().get("CreateVpcEndpoint", 0)
        creates = stack.aws.call_counts().get("CreateVpcEndpoint", 0)
    waits = {tenant: [ready[k] - applied[k] for k in ready if k[0] == tenant] for tenant in counts}
    return {
        "connections": counts,
        "bucket": {"burst": BURST, "rate_per_second": rate},
        "floor_seconds": round(floor, 1),
        "apply_to_all_ready_seconds": round(took, 1),
        "ratio_to_floor": round(took / floor, 2),
        "create_calls": creates,
        "request_limit_exceeded": throttled,
        "wait_seconds": {
            tenant: {
                "p50": percentile(values, 0.5),
                "p99": percentile(values, 0.99),
                "mean": round(statistics.fmean(values), 1),
            }
            for tenant, values in waits.items()
        },
        "operator_peak_rss_mib": round(rss, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rate", type=float, default=2.0, help="bucket refill per second")
    parser.add_argument("--output", type=Path, default=Path("bench/results-throttled.json"))
    args = parser.parse_args()
    results = [run({"flood": 30}, 0.3, delay_small=False)]
    sys.stdout.write(json.dumps(results[-1], indent=2) + "\n")
    for n in args.sizes:
        results.append(run({"big": n - SMALL, "small": SMALL}, args.rate, delay_small=True))
        sys.stdout.write(json.dumps(results[-1], indent=2) + "\n")
    args.output.write_text(json.dumps(report(results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
