"""Benchmark: the real operator (`causeway run`, its own process) against the embedded
sandbox with N OutboundConnections to an instantly-available endpoint service, over a
pool of ceil(N/50) transit VPCs (the sandbox enforces AWS's default quota of 50
interface endpoints per VPC, so each VPC fills up exactly).

Reports, per N: time from apply to all Ready; AWS calls to converge, by operation;
AWS describe calls per pass in steady state (target <= ceil(N/1000) per region and
listing); Kubernetes writes per no-op pass (target 0); the operator process's peak
RSS; and, after a restart of the operator, the time, AWS calls and Kubernetes writes
it takes to resume every object.
The figures are written to a JSON file; nothing here asserts on timing.

    uv run python bench/outbound.py                 # N = 100, 1000 and 2500 (~8 min)
    uv run python bench/outbound.py --sizes 50 --output /tmp/bench.json
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from causeway.sandbox.stack import SandboxStack
from common import (
    POLL_INTERVAL_S,
    REGION,
    STEADY_POLLS,
    next_pass,
    peak_rss_mib,
    resumed,
    rss_mib,
    run_all,
    stop,
    wait_until,
)

# A ConnectionQuota grants at most 1,000 licenses (its CRD's maximum): N connections
# are spread over ceil(N/1000) tenants. (Earlier runs put 2,500 in one namespace, whose
# quota the API server refused: nothing could be provisioned.)
LICENSES_PER_TENANT = 1000
ENDPOINTS_PER_VPC = 50  # AWS's default quota, which the sandbox enforces
OUTBOUND = "outboundconnections"
DESCRIBES = ("DescribeVpcEndpoints", "DescribeVpcEndpointConnections")


def ready_count(stack: SandboxStack) -> int:
    return sum(
        1
        for body in stack.kube.list(OUTBOUND, None)
        if (body.get("status") or {}).get("phase") == "Ready"
    )


def tenants(n: int) -> list[str]:
    return [f"bench-{i}" for i in range(math.ceil(n / LICENSES_PER_TENANT))]


def describe_calls(stack: SandboxStack) -> dict[str, int]:
    counts = stack.aws.call_counts()
    return {op: counts.get(op, 0) for op in DESCRIBES}


def run_size(n: int) -> dict[str, Any]:
    with (
        SandboxStack(
            region=REGION,
            poll_interval=f"{POLL_INTERVAL_S}s",
            namespaces=tenants(n),
            transit_vpcs=math.ceil(n / ENDPOINTS_PER_VPC),
        ) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        service = stack.aws.create_tenant_service(acceptance_required=False)
        for tenant in tenants(n):
            stack.grant_quota(tenant, licenses=LICENSES_PER_TENANT)
        workdir = Path(tmp)
        operator = stack.start_operator_process(workdir, extra_args=["-v"])
        try:
            next_pass(workdir / "operator.log")
            idle_rss = rss_mib(operator.pid)  # started and passed once, no object yet
            stack.aws.reset_call_counts()
            started = time.monotonic()
            for i in range(n):
                stack.kube.apply(
                    {
                        "apiVersion": "causeway.dev/v1alpha1",
                        "kind": "OutboundConnection",
                        "metadata": {
                            "name": f"conn-{i:05d}",
                            "namespace": tenants(n)[i // LICENSES_PER_TENANT],
                        },
                        "spec": {"region": stack.region, "serviceName": service.service_name},
                    }
                )
            applied = time.monotonic() - started
            # Listing every object costs the sandbox's process CPU the operator needs too:
            # above 1,000 objects, look once a second or less.
            step = max(0.2, n / 2500)
            wait_until(lambda: ready_count(stack) == n, 60 + n * 0.5, f"{n} Ready", step=step)
            to_ready = time.monotonic() - started
            converge_calls = stack.aws.call_counts()
            print(f"{n} Ready in {to_ready:.1f} s; peak RSS {peak_rss_mib(operator.pid):.1f} MiB")

            log = workdir / "operator.log"
            next_pass(log)  # the first pass after convergence may still write
            next_pass(log)
            aws_before, kube_before = describe_calls(stack), stack.kube.write_count()
            for _ in range(STEADY_POLLS):
                next_pass(log)
            aws_after = describe_calls(stack)
            steady_writes = stack.kube.write_count() - kube_before
            rss, settled_rss = peak_rss_mib(operator.pid), rss_mib(operator.pid)

            stop(operator)
            stack.aws.reset_call_counts()
            kube_before = stack.kube.write_count()
            restarted = time.monotonic()
            operator = stack.start_operator_process(workdir, extra_args=["-v"])
            restart_seconds: float | None = None
            try:
                wait_until(lambda: resumed(log) >= n, 60 + n * 0.2, f"{n} objects resumed")
                restart_seconds = time.monotonic() - restarted
            except TimeoutError as exc:  # the figures measured so far still count
                print(f"{n}: {exc}")
            resumed_count = resumed(log)
            restart_calls = stack.aws.call_counts()
            restart_writes = stack.kube.write_count() - kube_before
        finally:
            stop(operator)
    return {
        "objects": n,
        "transit_vpcs": math.ceil(n / ENDPOINTS_PER_VPC),
        "apply_seconds": round(applied, 2),
        "apply_to_all_ready_seconds": round(to_ready, 2),
        "aws_calls_to_converge": dict(sorted(converge_calls.items())),
        "aws_calls_to_converge_per_object": round(sum(converge_calls.values()) / n, 2),
        "steady_state_passes": STEADY_POLLS,
        "describe_calls_per_pass": {
            op: (aws_after[op] - aws_before[op]) / STEADY_POLLS for op in DESCRIBES
        },
        "describe_calls_per_listing_target": math.ceil(n / 1000),
        "kubernetes_writes_per_noop_pass": steady_writes / STEADY_POLLS,
        "operator_peak_rss_mib": round(rss, 1),
        "operator_rss_with_no_object_mib": round(idle_rss, 1),
        "operator_rss_in_steady_state_mib": round(settled_rss, 1),
        "restart_to_all_resumed_seconds": (
            None if restart_seconds is None else round(restart_seconds, 2)
        ),
        "restart_resumed_objects": resumed_count,
        "restart_aws_calls": dict(sorted(restart_calls.items())),
        "restart_kubernetes_writes": restart_writes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 2500])
    parser.add_argument("--output", type=Path, default=Path("bench/results-outbound.json"))
    args = parser.parse_args()
    return run_all(args.sizes, run_size, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
